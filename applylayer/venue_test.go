package applylayer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/venuetest"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/reason"
)

// flatVenue is a venue with no position and a mark for every symbol, whose
// orders fail until a test says what they do.
func flatVenue() *venuetest.Venue {
	return &venuetest.Venue{
		PositionFunc:    func(context.Context, string) (float64, error) { return 0, nil },
		MarkPriceFunc:   func(context.Context, string) (float64, error) { return 65000, nil },
		SetLeverageFunc: func(context.Context, string, int) error { return nil },
	}
}

func filled(o exchange.Order) exchange.OrderState {
	return exchange.OrderState{ClientOrderID: o.ClientOrderID, ExchangeOrderID: "42", Symbol: o.Symbol, Side: o.Side,
		Status: exchange.StatusFilled, FilledQty: o.Qty, AvgPrice: "65000"}
}

// TestVenueRejects: a rejection is FAILED EXCHANGE_REJECTED with the venue's
// code, never looked up or retried.
func TestVenueRejects(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	v.PlaceOrderFunc = func(context.Context, exchange.Order) (exchange.OrderState, error) {
		return exchange.OrderState{}, &exchange.Rejected{Code: -2019, Msg: "Margin is insufficient."}
	}
	w.startOn(v, nil)
	r := w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)))
	wantResult(t, r, "FAILED", reason.ExchangeRejected)
	if !strings.Contains(r["detail"], "-2019") || v.Count("PlaceOrder") != 1 || v.Count("LookupOrder") != 0 {
		t.Fatalf("detail %q, calls %+v: want the venue code, one order, no look-up", r["detail"], v.Calls())
	}
}

// TestVenueUnavailable: nothing sent is FAILED EXCHANGE_UNAVAILABLE.
func TestVenueUnavailable(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	v.PlaceOrderFunc = func(context.Context, exchange.Order) (exchange.OrderState, error) {
		return exchange.OrderState{}, exchange.ErrUnavailable
	}
	w.startOn(v, nil)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "FAILED", reason.ExchangeUnavailable)
}

// TestUnknownOutcomeResolvedByLookup: an order whose outcome is unknown is
// looked up by its client order id, never placed twice.
func TestUnknownOutcomeResolvedByLookup(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	var placed atomic.Pointer[exchange.Order]
	v.PlaceOrderFunc = func(_ context.Context, o exchange.Order) (exchange.OrderState, error) {
		placed.Store(&o)
		return exchange.OrderState{}, exchange.ErrUnknownOutcome
	}
	v.LookupOrderFunc = func(_ context.Context, _, coid string) (exchange.OrderState, bool, error) {
		o := placed.Load()
		if o == nil || o.ClientOrderID != coid {
			return exchange.OrderState{}, false, nil
		}
		return filled(*o), true, nil
	}
	w.startOn(v, nil)
	f := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	r := w.send(f)
	wantResult(t, r, "EXECUTED", "")
	if r["client_order_id"] != market.ClientOrderID(f["plan_id"]) || r["filled_qty"] != "0.01" || v.Count("PlaceOrder") != 1 {
		t.Fatalf("result %v after %d orders: want one order, found by its client order id", r, v.Count("PlaceOrder"))
	}
}

// TestUnknownOutcomeLeftPendingThenReconciled: when the look-up fails too,
// the plan gets no result (not a final FAILED): it stays pending, is claimed
// again, and the resumed attempt looks the order up instead of sending it
// again.
func TestUnknownOutcomeLeftPendingThenReconciled(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	var lookups atomic.Int64
	var placed atomic.Pointer[exchange.Order]
	v.PlaceOrderFunc = func(_ context.Context, o exchange.Order) (exchange.OrderState, error) {
		placed.Store(&o)
		return exchange.OrderState{}, exchange.ErrUnknownOutcome
	}
	v.LookupOrderFunc = func(_ context.Context, _, coid string) (exchange.OrderState, bool, error) {
		if lookups.Add(1) == 1 {
			return exchange.OrderState{}, false, errors.New("HTTP 429: too many requests")
		}
		return filled(*placed.Load()), true, nil
	}
	w.startOn(v, nil)
	f := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	w.xadd(f)
	rs := w.result(f["plan_id"], 1)
	wantResult(t, rs[0], "EXECUTED", "")
	time.Sleep(400 * time.Millisecond) // past another claim round: still one result
	if n := len(w.result(f["plan_id"], 1)); n != 1 || v.Count("PlaceOrder") != 1 || lookups.Load() < 2 {
		t.Fatalf("%d results, %d orders, %d look-ups: want 1 result, 1 order, the second look-up resolving it", n, v.Count("PlaceOrder"), lookups.Load())
	}
}

// TestLeverageFailureSendsNothing: when the venue refuses the leverage, the
// entry is FAILED and no order is placed.
func TestLeverageFailureSendsNothing(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	v.SetLeverageFunc = func(context.Context, string, int) error {
		return &exchange.Rejected{Code: -4028, Msg: "Leverage 50 is not valid"}
	}
	v.PlaceOrderFunc = func(context.Context, exchange.Order) (exchange.OrderState, error) {
		t.Error("an order was placed after its leverage was refused")
		return exchange.OrderState{}, exchange.ErrUnavailable
	}
	w.startOn(v, nil)
	r := w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)))
	wantResult(t, r, "FAILED", reason.ExchangeRejected)
	if !strings.Contains(r["detail"], "set leverage") || v.Count("PlaceOrder") != 0 {
		t.Fatalf("detail %q, %d orders", r["detail"], v.Count("PlaceOrder"))
	}
}

// TestPositionUnreadableDenies: an entry whose position cannot be read is
// denied, fail closed (ownership cannot be decided without it).
func TestPositionUnreadableDenies(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	v.PositionFunc = func(context.Context, string) (float64, error) { return 0, exchange.ErrUnavailable }
	w.startOn(v, nil)
	wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))), "DENIED", reason.ExchangeUnavailable)
	if v.Count("PlaceOrder") != 0 {
		t.Fatal("an order was placed without a position")
	}
}

// TestLimitTimeInForce: a LIMIT of a source that may not exit goes to the
// venue immediate-or-cancel; the exit owner's may rest.
func TestLimitTimeInForce(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	v := flatVenue()
	v.PositionFunc = func(context.Context, string) (float64, error) { return 0.01, nil }
	v.PlaceOrderFunc = func(_ context.Context, o exchange.Order) (exchange.OrderState, error) { return filled(o), nil }
	w.startOn(v, nil)
	limit := func(source, side string, reduce bool) map[string]string {
		f := w.fields(source, "BTCUSDT", side, "0.01", reduce)
		f["type"], f["price"] = "LIMIT", "65000"
		return sign(f)
	}
	w.send(limit("intent_bridge", "BUY", false))
	w.send(limit("exitbrain_v3_5", "SELL", true))
	var tifs []string
	for _, c := range v.Calls() {
		if c.Method == "PlaceOrder" {
			kind := "entry"
			if c.Order.ReduceOnly {
				kind = "exit"
			}
			tifs = append(tifs, kind+"="+c.Order.TimeInForce)
		}
	}
	if len(tifs) != 2 || tifs[0] != "entry=IOC" || tifs[1] != "exit=" {
		t.Fatalf("time in force %v, want the entry IOC and the owner's exit unset (may rest)", tifs)
	}
}
