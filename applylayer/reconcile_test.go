package applylayer_test

import (
	"context"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// TestReconcileFindsOrphans: an order of ours at the venue that no record
// knows (its record lost, as in an asynchronous failover) is found by the
// apply layer's own periodic reconciliation, recorded and alerted
// ORPHAN_ORDER once; the plans it executed itself are not orphans; nothing
// is placed or cancelled.
func TestReconcileFindsOrphans(t *testing.T) {
	defer applylayer.SetReconcileEvery(200 * time.Millisecond)()
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	al, err := alert.New(w.rdb, alert.Options{Keys: w.ks, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.start(func(c *applylayer.Config) { c.Alerts = al })
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	ctx := context.Background()
	lost := market.ClientOrderID("a-plan-whose-record-was-lost")
	if _, err := w.venue.PlaceOrder(ctx, exchange.Order{ClientOrderID: lost, Symbol: "ETHUSDT", Side: market.Buy, Type: market.Market, Qty: "0.1"}); err != nil {
		t.Fatal(err)
	}
	orders := w.orderCount()
	var found []map[string]string
	waitFor(t, "an ORPHAN_ORDER alert", func() bool {
		found = nil
		for _, a := range redistest.StreamEntries(t, env.Client, env.Keys.Alerts()) {
			if a["alert_type"] == applylayer.TypeOrphanOrder {
				found = append(found, a)
			}
		}
		return len(found) > 0
	})
	if found[0]["symbols"] != "ETHUSDT" || found[0]["status"] != "firing" {
		t.Fatalf("alert %v", found[0])
	}
	// Once more, by hand: the same orphan, not new, not alerted again.
	orphans, err := applylayer.Reconcile(ctx, env.Client, env.Keys, w.venue, []string{"BTCUSDT", "ETHUSDT"}, time.Now().Add(-time.Hour), al, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].ClientOrderID != lost || orphans[0].New {
		t.Fatalf("orphans %+v, want the lost order only, already recorded", orphans)
	}
	time.Sleep(500 * time.Millisecond) // more periodic runs
	n := 0
	for _, a := range redistest.StreamEntries(t, env.Client, env.Keys.Alerts()) {
		if a["alert_type"] == applylayer.TypeOrphanOrder {
			n++
		}
	}
	if n != 1 || w.orderCount() != orders {
		t.Fatalf("%d ORPHAN_ORDER alerts (want 1), %d orders (want %d: reconciliation places nothing)", n, w.orderCount(), orders)
	}
}
