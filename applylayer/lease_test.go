package applylayer_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange/venuetest"
	"github.com/quantumtrader/quantum/internal/redistest"
)

// pausingVenue is the paper venue seen through a replica that stalls (a GC
// pause, a SIGSTOP) inside its first position read, past every lease.
func pausingVenue(w *world, pause time.Duration, paused chan<- struct{}) *venuetest.Venue {
	var first atomic.Bool
	return &venuetest.Venue{
		PositionFunc: func(ctx context.Context, sym string) (float64, error) {
			if first.CompareAndSwap(false, true) {
				close(paused)
				time.Sleep(pause)
			}
			return w.venue.Position(ctx, sym)
		},
		MarkPriceFunc:   w.venue.MarkPrice,
		SetLeverageFunc: w.venue.SetLeverage,
		LookupOrderFunc: w.venue.LookupOrder,
		PlaceOrderFunc:  w.venue.PlaceOrder,
	}
}

// TestPausedReplicaDoesNotActOnALostLease: replica A takes a plan and
// stalls past the claim idle before its order; replica B claims the plan
// and places it; when A wakes, its fence finds the plan taken and A places
// nothing and writes no result. One order, one result. (Before the fence, A
// placed the order a second time: the paper venue hid it by deduplicating
// the client order id, Binance does not for a filled order.)
func TestPausedReplicaDoesNotActOnALostLease(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	fast := func(c *applylayer.Config) { c.ClaimIdle = 300 * time.Millisecond }
	paused := make(chan struct{})
	a := pausingVenue(w, 1500*time.Millisecond, paused)
	w.startOn(a, func(c *applylayer.Config) { fast(c); c.Consumer = "replica-a" })
	f := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	w.xadd(f)
	select {
	case <-paused:
	case <-time.After(5 * time.Second):
		t.Fatal("replica A never read the position")
	}
	w.start(func(c *applylayer.Config) { fast(c); c.Consumer = "replica-b" })
	r := w.result(f["plan_id"], 1)[0]
	wantResult(t, r, "EXECUTED", "")
	if r["consumer"] != "replica-b" {
		t.Fatalf("result written by %s, want replica-b (A is paused)", r["consumer"])
	}
	time.Sleep(2 * time.Second) // A wakes up, fences, and gives up
	if n := a.Count("PlaceOrder"); n != 0 {
		t.Fatalf("the paused replica placed %d order(s) after its lease was taken", n)
	}
	if rs := w.result(f["plan_id"], 1); len(rs) != 1 || w.orderCount() != 1 {
		t.Fatalf("%d results, %d venue orders; want 1 and 1", len(rs), w.orderCount())
	}
	if !strings.Contains(w.logs.String(), "plan taken over by another consumer") {
		t.Fatalf("replica A did not say it gave the plan up:\n%s", w.logs.String())
	}
}

// TestFenceRefusesAStolenSymbolLease: a plan decided under a symbol lease
// that another consumer took meanwhile is decided again on a fresh read,
// never placed on the stale one.
func TestFenceRefusesAStolenSymbolLease(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	lease := env.Keys.ApplySymbolLease("BTCUSDT")
	var stolen atomic.Bool
	v := &venuetest.Venue{
		PositionFunc: func(ctx context.Context, sym string) (float64, error) {
			if stolen.CompareAndSwap(false, true) { // another replica takes the lease after our read
				if err := env.Client.Set(ctx, lease, "thief:1", 200*time.Millisecond).Err(); err != nil {
					return 0, err
				}
			}
			return w.venue.Position(ctx, sym)
		},
		MarkPriceFunc: w.venue.MarkPrice, SetLeverageFunc: w.venue.SetLeverage,
		LookupOrderFunc: w.venue.LookupOrder, PlaceOrderFunc: w.venue.PlaceOrder,
	}
	w.startOn(v, nil)
	r := w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)))
	wantResult(t, r, "EXECUTED", "")
	if n := v.Count("Position"); n < 2 {
		t.Fatalf("%d position reads: the plan was not decided again after its lease was stolen", n)
	}
	if v.Count("PlaceOrder") != 1 {
		t.Fatalf("%d orders, want 1", v.Count("PlaceOrder"))
	}
}
