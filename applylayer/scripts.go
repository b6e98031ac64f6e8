package applylayer

// The exactly-once scripts, one .lua file each (embedded): each file's
// header says its keys, arguments and reply.

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed *.lua
var luaFiles embed.FS

// script loads one embedded .lua file; a missing file is a build mistake,
// caught by every test that runs the package.
func script(name string) *redis.Script {
	src, err := luaFiles.ReadFile(name)
	if err != nil {
		panic("applylayer: " + err.Error())
	}
	return redis.NewScript(string(src))
}

// reserveScript claims a plan's execution record for one stream entry.
// The record is written before anything else happens to the plan, and its
// state stays "open" until the result is written: an open record means
// the venue may hold the plan's order, so a consumer that resumes it looks
// the order up by client order id before deciding anything. See reserve.lua.
var reserveScript = script("reserve.lua")

// finalizeScript writes a plan's one result and acknowledges its entry,
// atomically: a crash leaves either both or neither, so every entry gets
// exactly one result. See finalize.lua.
var finalizeScript = script("finalize.lua")

// rateScript takes one order from the per-minute budget, or refuses. See rate.lua.
var rateScript = script("rate.lua")

// leaseScript takes, renews or gives up a symbol's lease. See lease.lua.
var leaseScript = script("lease.lua")

// guardScript checks and renews the plan record and the symbol's lease
// immediately before a venue call. See guard.lua.
var guardScript = script("guard.lua")

// delConsumerScript removes a consumer only when it holds nothing pending.
// See delconsumer.lua.
var delConsumerScript = script("delconsumer.lua")

// exposureScript reserves an entry against the account's gross exposure
// and open-position caps, or clears its reservation. See exposure.lua.
var exposureScript = script("exposure.lua")
