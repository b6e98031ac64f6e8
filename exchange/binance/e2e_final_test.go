package binance_test

// End-to-end tests of issue 12 through the apply layer on real Redis with
// the adapter on the fake: final states decide results, an unknown
// outcome reconciled through 429s never ends FAILED nor as a second
// order, and a burst of 1,000 plans stays under the venue's limits with
// every exit placed.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/market"
)

// TestApplyLayerFinalStates: an exit MARKET order the book cannot fill
// (EXPIRED, nothing filled) is FAILED EXCHANGE_ORDER_EXPIRED, never
// EXECUTED; a partial fill is EXECUTED with the filled quantity and says
// so; a LIMIT resting NEW gets no result until it is final: filled when
// the mark crosses it, FAILED EXCHANGE_ORDER_CANCELED when cancelled with
// nothing filled.
func TestApplyLayerFinalStates(t *testing.T) {
	a := newApplyRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetPosition("BTCUSDT", "0.05") })
	const owner = "exitbrain_v3_5"

	a.fake.SetLiquidity("BTCUSDT", "0")
	id := a.send(owner, "SELL", "MARKET", "0.02", true, nil)
	res := a.result(id, 10*time.Second)
	if res["decision"] != "FAILED" || res["reason"] != "EXCHANGE_ORDER_EXPIRED" || res["executed"] != "false" ||
		res["filled_qty"] != "0" || res["order_status"] != "EXPIRED" || res["exchange_order_id"] == "" {
		t.Fatalf("expired exit: %v\nlogs:\n%s", res, a.logs.String())
	}

	a.fake.SetLiquidity("BTCUSDT", "0.015")
	id = a.send(owner, "SELL", "MARKET", "0.02", true, nil)
	res = a.result(id, 10*time.Second)
	if res["decision"] != "EXECUTED" || res["filled_qty"] != "0.015" || res["order_status"] != "EXPIRED" ||
		!strings.Contains(res["detail"], "partially filled 0.015 of 0.02") {
		t.Fatalf("partly filled exit: %v", res)
	}
	a.fake.SetLiquidity("BTCUSDT", "")
	if got := a.fake.Position("BTCUSDT"); got != "0.035" {
		t.Fatalf("position %s, want 0.035", got)
	}

	// A LIMIT entry below the mark rests NEW: no result while it rests.
	rest := a.send("intent_bridge", "BUY", "LIMIT", "0.01", false, map[string]string{"price": "64000"})
	a.noResult(rest, 1200*time.Millisecond)
	if !strings.Contains(a.logs.String(), "order resting at the venue") {
		t.Fatalf("no 'order resting' log:\n%s", a.logs.String())
	}
	a.fake.SetMark("BTCUSDT", "63900")
	res = a.result(rest, 10*time.Second)
	if res["decision"] != "EXECUTED" || res["filled_qty"] != "0.01" || res["order_status"] != "FILLED" {
		t.Fatalf("rested then filled: %v", res)
	}
	cancelled := a.send("intent_bridge", "BUY", "LIMIT", "0.01", false, map[string]string{"price": "60000"})
	a.noResult(cancelled, 700*time.Millisecond)
	if !a.fake.Cancel(market.ClientOrderID(cancelled)) {
		t.Fatal("the resting order was not at the venue")
	}
	res = a.result(cancelled, 10*time.Second)
	if res["decision"] != "FAILED" || res["reason"] != "EXCHANGE_ORDER_CANCELED" || res["filled_qty"] != "0" {
		t.Fatalf("cancelled resting order: %v", res)
	}
	for _, p := range []string{id, rest, cancelled} {
		if n := a.ordersOf(p); n != 1 {
			t.Fatalf("plan %s: %d orders", p, n)
		}
	}
}

// TestApplyLayerUnknownThrough429: the order's answer never comes (the
// venue may or may not hold it), and the look-ups that reconcile it meet
// 429s: the plan is never finished FAILED, and there is never a second
// order. Two cases: the first attempt never reached the matching engine
// (it is sent again once it can no longer execute, and fills once), and it
// surfaces late (found, EXECUTED, not re-sent).
func TestApplyLayerUnknownThrough429(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			a := newApplyRig(t, nil)
			first := binancefake.Fault{Delay: time.Minute}
			if late {
				first.ExecuteAfter = 500 * time.Millisecond
			}
			a.fake.Inject("POST /fapi/v1/order", first)
			rl := binancefake.Fault{Status: 429, Code: -1003, Msg: "Too many requests.", RetryAfter: "1"}
			a.fake.Inject("GET /fapi/v1/order", binancefake.Fault{Status: 400, Code: -2013, Msg: "Order does not exist."}, rl, rl, rl)
			id := a.send("intent_bridge", "BUY", "MARKET", "0.01", false, nil)
			res := a.result(id, 20*time.Second)
			if res["decision"] != "EXECUTED" || res["filled_qty"] != "0.01" {
				t.Fatalf("result %v, want EXECUTED once reconciled\nlogs:\n%s", res, a.logs.String())
			}
			if n := a.ordersOf(id); n != 1 {
				t.Fatalf("%d orders at the venue, want 1", n)
			}
			if st := a.fake.RateStats(); st.Banned != 0 {
				t.Fatalf("banned %d times: requests were sent during a Retry-After", st.Banned)
			}
		})
	}
}

// TestApplyLayerBurst: 1,000 plans at once, 900 entries and 100 exits of
// the owner interleaved, against a venue allowing 200 request weight and
// 50 orders a second: the venue never answers 429 (the limiter keeps the
// adapter under both), every exit is EXECUTED, and every entry is
// EXECUTED or refused before the venue (FAILED EXCHANGE_UNAVAILABLE).
func TestApplyLayerBurst(t *testing.T) {
	a := newApplyRig(t, func(_ *binance.Config, f *binancefake.Fake) {
		f.SetPosition("BTCUSDT", "5")
		f.SetRateLimits(binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "SECOND", IntervalNum: 1, Limit: 200},
			binancefake.RateLimit{Type: "ORDERS", Interval: "SECOND", IntervalNum: 1, Limit: 50})
	})
	exits := map[string]bool{}
	var ids []string
	for i := range 1000 {
		if i%10 == 9 {
			id := a.send("exitbrain_v3_5", "SELL", "MARKET", "0.002", true, nil)
			exits[id] = true
			ids = append(ids, id)
			continue
		}
		ids = append(ids, a.send("intent_bridge", "BUY", "MARKET", "0.002", false, nil))
	}
	deadline := time.Now().Add(90 * time.Second)
	var res map[string]map[string]string
	for {
		res = a.results()
		if len(res) == len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(res) != len(ids) {
		t.Fatalf("%d results of %d after 90s\nlogs (tail):\n%s", len(res), len(ids), tail(a.logs.String(), 3000))
	}
	entriesOK, entriesRefused := 0, 0
	for _, id := range ids {
		r := res[id]
		switch {
		case exits[id]:
			if r["decision"] != "EXECUTED" || r["filled_qty"] != "0.002" {
				t.Fatalf("exit %s: %v", id, r)
			}
		case r["decision"] == "EXECUTED":
			entriesOK++
		case r["decision"] == "FAILED" && r["reason"] == "EXCHANGE_UNAVAILABLE" && strings.Contains(r["detail"], "client-side rate limit"):
			entriesRefused++
		default:
			t.Fatalf("entry %s: %v", id, r)
		}
	}
	st := a.fake.RateStats()
	if st.Limited != 0 || st.Banned != 0 || st.MaxWeight > 200 {
		t.Fatalf("the venue saw %+v: beyond its limits", st)
	}
	if entriesOK == 0 || entriesRefused == 0 {
		t.Fatalf("entries executed %d, refused %d: want both (the limiter's share, not all or nothing)", entriesOK, entriesRefused)
	}
	t.Logf("1,000 plans: 100 exits executed, %d entries executed, %d refused by the limiter; venue %+v", entriesOK, entriesRefused, st)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
