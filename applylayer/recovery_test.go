package applylayer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/reason"
)

// TestRecoveryAtEveryCrashPoint builds, by hand, the Redis state a crash
// leaves at each point of a plan's processing, and checks that a new
// consumer finishes the plan with exactly one result and at most one order.
func TestRecoveryAtEveryCrashPoint(t *testing.T) {
	cases := []struct {
		name       string
		record     string // state of the execution record; "" for none
		placed     bool   // the order reached the venue before the crash
		age        time.Duration
		want       string
		wantCode   reason.Code
		wantOrders int
	}{
		{"delivered, nothing recorded", "", false, 0, "EXECUTED", "", 1},
		{"recorded, never reached the venue", "open", false, 0, "EXECUTED", "", 1},
		{"reached the venue, no result yet", "open", true, 0, "EXECUTED", "", 1},
		{"reached the venue long ago: still reconciled", "open", true, 10 * time.Minute, "EXECUTED", "", 1},
		{"recorded long ago, never reached the venue: not executed late", "open", false, 10 * time.Minute, "DENIED", reason.PlanExpired, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := redistest.New(t)
			w := newWorld(t, env.Client, env.Keys)
			ctx := context.Background()
			f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
			f["timestamp"] = strconv.FormatInt(time.Now().Add(-tc.age).Unix(), 10)
			f = sign(f)
			id := w.xadd(f)
			// A consumer that took the entry and died.
			if err := env.Client.XGroupCreateMkStream(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup, "0").Err(); err != nil {
				t.Fatal(err)
			}
			if err := env.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: applylayer.DefaultGroup, Consumer: "dead",
				Streams: []string{env.Keys.ApplyPlan(), ">"}, Count: 1, Block: -1}).Err(); err != nil {
				t.Fatal(err)
			}
			coid := market.ClientOrderID(f["plan_id"])
			if tc.record != "" {
				env.Client.HSet(ctx, env.Keys.PlanRecord(f["source"], f["plan_id"]), "entry", id, "state", tc.record,
					"owner", "dead", "lease_until", "0", "client_order_id", coid)
			}
			if tc.placed {
				if _, err := w.venue.PlaceOrder(ctx, exchange.Order{ClientOrderID: coid, Symbol: "BTCUSDT",
					Side: market.Buy, Type: market.Market, Qty: "0.01"}); err != nil {
					t.Fatal(err)
				}
			}
			w.start(func(c *applylayer.Config) { c.ClaimIdle = 50 * time.Millisecond })
			r := w.result(f["plan_id"], 1)[0]
			wantResult(t, r, tc.want, tc.wantCode)
			if tc.want == "EXECUTED" && r["client_order_id"] != coid {
				t.Fatalf("client order id %s, want %s", r["client_order_id"], coid)
			}
			time.Sleep(150 * time.Millisecond) // a second claim round
			if n := len(w.result(f["plan_id"], 1)); n != 1 {
				t.Fatalf("%d results, want 1", n)
			}
			if n := w.orderCount(); n != tc.wantOrders {
				t.Fatalf("%d orders at the venue, want %d", n, tc.wantOrders)
			}
		})
	}
}
