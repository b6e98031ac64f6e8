package applylayer_test

import (
	"context"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/reason"
)

// placements is how many orders the paper venue ever placed (its order id
// counter): expiry forgets orders, never this.
func placements(t *testing.T, env *redistest.Env) int64 {
	t.Helper()
	n, err := env.Client.Get(context.Background(), env.Keys.Key("paper:seq")).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExactlyOnceAcrossTheVenueRetention attacks the boundary of the paper
// venue's order retention: the venue has forgotten the orders (their client
// order ids would be placed again) while the execution records still
// exist, and the plans are still fresh. Replays of all of them must place
// nothing: exactly-once rests on the records, not on the venue's dedupe.
// After the record TTL the same replays are stale and still place nothing.
func TestExactlyOnceAcrossTheVenueRetention(t *testing.T) {
	const plans = 20
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	// Shorter than the record TTL on purpose: the library allows it (the
	// apply-layer command refuses it), which is the hostile case.
	short, err := w.venue.WithRetention(300 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	w.venue = short
	w.startOn(short, func(c *applylayer.Config) { c.RecordTTL, c.Freshness = 4*time.Second, 2*time.Second })
	signed := make([]map[string]string, plans)
	for i := range signed {
		signed[i] = sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.001", false))
		wantResult(t, w.send(signed[i]), "EXECUTED", "")
	}
	if n := placements(t, env); n != plans {
		t.Fatalf("%d placements for %d plans", n, plans)
	}
	time.Sleep(500 * time.Millisecond) // past the venue's retention, inside the record TTL and freshness
	if w.orderCount() != 0 {
		t.Fatalf("the venue still holds %d orders after its retention", w.orderCount())
	}
	for _, f := range signed {
		if _, found, err := w.venue.LookupOrder(context.Background(), "BTCUSDT", market.ClientOrderID(f["plan_id"])); found || err != nil {
			t.Fatalf("order of %s still found (%v): the attack needs the venue to have forgotten it", f["plan_id"], err)
		}
		wantResult(t, w.send(f), "DENIED", reason.PlanReplayed)
	}
	time.Sleep(4 * time.Second) // past the record TTL: the plans are stale too
	for _, f := range signed {
		if r := w.send(f); r["decision"] != "DENIED" || r["executed"] == "true" {
			t.Fatalf("replay after the record TTL: %v", r)
		}
	}
	if n := placements(t, env); n != plans {
		t.Fatalf("%d placements after %d replays of %d plans across the window: want %d", n, 2*plans, plans, plans)
	}
	if p := w.position("BTCUSDT"); p != 0.02 {
		t.Fatalf("position %v, want 0.02 (20 fills of 0.001)", p)
	}
}

// TestReconcileAcrossTheVenueRetention: with the venue holding orders three
// times longer than the records (so orders outlive their index entries),
// reconciliation over the window it is given (at most the record TTL)
// reports none of the apply layer's own orders as orphans, and still finds
// a real one inside it.
func TestReconcileAcrossTheVenueRetention(t *testing.T) {
	// Plan timestamps are whole seconds, so a freshness window of 1s
	// refused a plan made late in a second (1.001s old 2 ms later: PLAN_EXPIRED
	// once in CI); 2s holds any plan sent at once, and the record TTL is at
	// least twice it.
	const ttl, fresh = 4 * time.Second, 2 * time.Second
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	long, err := w.venue.WithRetention(3 * ttl)
	if err != nil {
		t.Fatal(err)
	}
	w.venue = long
	w.startOn(long, func(c *applylayer.Config) { c.RecordTTL, c.Freshness = ttl, fresh })
	ctx := context.Background()
	start := time.Now()
	for time.Since(start) < 2*ttl { // plans over two record TTLs: the first ones' index entries expire
		wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.001", false))), "EXECUTED", "")
		time.Sleep(100 * time.Millisecond)
	}
	lost := market.ClientOrderID("a-plan-whose-record-was-lost-2")
	if _, err := w.venue.PlaceOrder(ctx, exchange.Order{ClientOrderID: lost, Symbol: "BTCUSDT", Side: market.Buy, Type: market.Market, Qty: "0.001"}); err != nil {
		t.Fatal(err)
	}
	all, err := w.venue.RecentOrders(ctx, "BTCUSDT", market.ClientOrderIDPrefix, start.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	orphans, err := applylayer.Reconcile(ctx, env.Client, env.Keys, w.venue, []string{"BTCUSDT"}, time.Now().Add(-ttl+time.Second), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].ClientOrderID != lost {
		t.Fatalf("orphans %+v among %d venue orders, want only %s", orphans, len(all), lost)
	}
	// The attack is real: over the whole venue history (beyond the record
	// TTL, which Reconcile's callers never ask for) the expired index
	// entries would look like orphans.
	wide, err := applylayer.Reconcile(ctx, env.Client, env.Keys, w.venue, []string{"BTCUSDT"}, start.Add(-time.Second), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(wide) <= 1 {
		t.Fatalf("over the whole history %d orphans: the test did not make orders outlive their index", len(wide))
	}
}
