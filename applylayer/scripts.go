package applylayer

// The exactly-once scripts, one .lua file each (embedded): each file's
// header says its keys, arguments and reply.

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// reserveScript claims a plan's execution record for one stream entry.
// The record is written before anything else happens to the plan, and its
// state stays "open" until the result is written: an open record means
// the venue may hold the plan's order, so a consumer that resumes it looks
// the order up by client order id before deciding anything. See reserve.lua.
var reserveScript = redis.NewScript(reserveLua)

//go:embed reserve.lua
var reserveLua string

// finalizeScript writes a plan's one result and acknowledges its entry,
// atomically: a crash leaves either both or neither, so every entry gets
// exactly one result. See finalize.lua.
var finalizeScript = redis.NewScript(finalizeLua)

//go:embed finalize.lua
var finalizeLua string

// rateScript takes one order from the per-minute budget, or refuses. See rate.lua.
var rateScript = redis.NewScript(rateLua)

//go:embed rate.lua
var rateLua string

// leaseScript takes, renews or gives up a symbol's lease. See lease.lua.
var leaseScript = redis.NewScript(leaseLua)

//go:embed lease.lua
var leaseLua string

// guardScript checks and renews the plan record and the symbol's lease
// immediately before a venue call. See guard.lua.
var guardScript = redis.NewScript(guardLua)

//go:embed guard.lua
var guardLua string

// delConsumerScript removes a consumer only when it holds nothing pending.
// See delconsumer.lua.
var delConsumerScript = redis.NewScript(delConsumerLua)

//go:embed delconsumer.lua
var delConsumerLua string
