package applylayer_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/reason"
)

// TestEarlyDenialUnderKeyACL: a plan denied before it has a record (unsigned,
// unparsable) gets its result when the apply layer's Redis user may only
// touch keys under the prefix (deploy/redis/users.acl). An empty key name
// passed to the result script is refused by such an ACL (NOPERM), which left
// every unauthenticated plan pending forever.
func TestEarlyDenialUnderKeyACL(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--user", "gw", "on", ">pw", "~acl:*", "+@all"}})
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), Username: "gw", Password: "pw"})
	t.Cleanup(func() { rdb.Close() })
	w := newWorld(t, rdb, keys.MustNew("acl"))
	w.start(nil)
	wantResult(t, w.send(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)), "DENIED", reason.AuthMissing)
}
