package applylayer_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/reason"
)

// TestFinalStateDecidesTheResult (issue 12): the order's final state, not
// the venue's acceptance, decides the result. Each state is answered by a
// venue that places the order once.
func TestFinalStateDecidesTheResult(t *testing.T) {
	cases := []struct {
		status   exchange.Status
		filled   string
		decision string
		code     reason.Code
		detail   string
	}{
		{exchange.StatusFilled, "0.01", "EXECUTED", "", ""},
		{exchange.StatusExpired, "0", "FAILED", reason.ExchangeOrderExpired, "EXPIRED at the venue with nothing filled"},
		{exchange.StatusExpiredInMatch, "0", "FAILED", reason.ExchangeOrderExpired, "EXPIRED_IN_MATCH"},
		{exchange.StatusCanceled, "0", "FAILED", reason.ExchangeOrderCanceled, "CANCELED"},
		{exchange.StatusRejected, "0", "FAILED", reason.ExchangeRejected, "REJECTED"},
		{exchange.StatusExpired, "0.004", "EXECUTED", "", "partially filled 0.004 of 0.01: the order ended EXPIRED"},
		{exchange.StatusCanceled, "0.006", "EXECUTED", "", "partially filled 0.006 of 0.01: the order ended CANCELED"},
	}
	for _, tc := range cases {
		t.Run(string(tc.status)+"/"+tc.filled, func(t *testing.T) {
			env := redistest.New(t)
			w := newWorld(t, env.Client, env.Keys)
			v := flatVenue()
			v.PositionFunc = func(context.Context, string) (float64, error) { return 0.05, nil } // a long to exit
			v.PlaceOrderFunc = func(_ context.Context, o exchange.Order) (exchange.OrderState, error) {
				st := filled(o)
				st.Status, st.FilledQty, st.OrigQty = tc.status, tc.filled, o.Qty
				return st, nil
			}
			w.startOn(v, nil)
			r := w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)))
			wantResult(t, r, tc.decision, tc.code)
			wantFilled := tc.filled
			if tc.decision != "EXECUTED" {
				wantFilled = "0"
			}
			if r["filled_qty"] != wantFilled || r["order_status"] != string(tc.status) || !strings.Contains(r["detail"], tc.detail) || v.Count("PlaceOrder") != 1 {
				t.Fatalf("result %v after %d orders", r, v.Count("PlaceOrder"))
			}
		})
	}
}

// TestRestingOrderFollowedUntilFinal: an order answered NEW (resting) gets
// no result while it rests; the plan is looked up again, never placed
// again, and its result is written once the order is final.
func TestRestingOrderFollowedUntilFinal(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	var final atomic.Bool
	var placed atomic.Pointer[exchange.Order]
	v.PlaceOrderFunc = func(_ context.Context, o exchange.Order) (exchange.OrderState, error) {
		placed.Store(&o)
		st := filled(o)
		st.Status, st.FilledQty = exchange.StatusNew, "0"
		return st, nil
	}
	v.LookupOrderFunc = func(_ context.Context, _, coid string) (exchange.OrderState, bool, error) {
		st := filled(*placed.Load())
		if !final.Load() {
			st.Status, st.FilledQty = exchange.StatusPartiallyFilled, "0.004"
		}
		return st, true, nil
	}
	w.startOn(v, nil)
	f := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	w.xadd(f)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		rs, err := w.results.read(w.rdb, w.ks, f["plan_id"])
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 0 {
			t.Fatalf("a result while the order rests: %v", rs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v.Count("LookupOrder") == 0 {
		t.Fatal("the resting order was not followed")
	}
	final.Store(true)
	rs := w.result(f["plan_id"], 1)
	wantResult(t, rs[0], "EXECUTED", "")
	if rs[0]["filled_qty"] != "0.01" || rs[0]["order_status"] != "FILLED" || v.Count("PlaceOrder") != 1 {
		t.Fatalf("result %v after %d orders", rs[0], v.Count("PlaceOrder"))
	}
}

// TestUnknownOutcomeAlertsBeyondTheBound: a plan whose order's outcome
// stays unknown gets no result, is never placed twice, and once it was
// received more than 2 minutes ago (by its stream entry id) every retry
// logs EXCHANGE_OUTCOME_UNKNOWN at error level.
func TestUnknownOutcomeAlertsBeyondTheBound(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	v.PlaceOrderFunc = func(context.Context, exchange.Order) (exchange.OrderState, error) {
		return exchange.OrderState{}, exchange.ErrUnknownOutcome
	}
	v.LookupOrderFunc = func(context.Context, string, string) (exchange.OrderState, bool, error) {
		return exchange.OrderState{}, false, exchange.ErrUnknownOutcome // the venue cannot tell yet
	}
	w.startOn(v, nil)
	f := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	// Received 3 minutes ago (the plan itself is fresh: a producer's clock).
	id := strconv.FormatInt(time.Now().Add(-3*time.Minute).UnixMilli(), 10) + "-0"
	if err := env.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: env.Keys.ApplyPlan(), ID: id, Values: f}).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.logs.String(), "EXCHANGE_OUTCOME_UNKNOWN plan_id="+f["plan_id"]) {
		if time.Now().After(deadline) {
			t.Fatalf("no EXCHANGE_OUTCOME_UNKNOWN log:\n%s", w.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // more claim rounds
	rs, err := w.results.read(w.rdb, w.ks, f["plan_id"])
	if err != nil || len(rs) != 0 || v.Count("PlaceOrder") != 1 || v.Count("LookupOrder") < 2 {
		t.Fatalf("results %v (%v), %d orders, %d look-ups: want none, one order, several look-ups", rs, err, v.Count("PlaceOrder"), v.Count("LookupOrder"))
	}
}
