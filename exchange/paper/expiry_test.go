package paper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// TestOrdersExpireAfterTheRetention: inside the retention a reused client
// order id is deduped (the stored order, no second fill); the order hash
// carries a TTL of the retention; after it the order and its index entry
// are gone, and the id is placed as a new order.
func TestOrdersExpireAfterTheRetention(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	const retention = 800 * time.Millisecond
	v, err := newVenue(t, env, testPrices).WithRetention(retention)
	if err != nil {
		t.Fatal(err)
	}
	first := place(t, v, marketOrder("x-reused", "BTCUSDT", market.Buy, "0.01"))
	ttl, err := env.Client.PTTL(ctx, v.orderKey("x-reused")).Result()
	if err != nil || ttl <= 0 || ttl > retention {
		t.Fatalf("order hash TTL %s (%v), want in (0, %s]", ttl, err, retention)
	}
	// Inside the window: the same id, even asking for something else.
	again := place(t, v, marketOrder("x-reused", "BTCUSDT", market.Sell, "5"))
	if again != first {
		t.Fatalf("reused id inside the retention: got %+v, want the stored %+v", again, first)
	}
	if amt, _ := position(t, v, "BTCUSDT"); amt != "0.01" {
		t.Fatalf("position %s after a deduped reuse, want 0.01 (one fill)", amt)
	}
	time.Sleep(retention + 200*time.Millisecond)
	if n, err := env.Client.Exists(ctx, v.orderKey("x-reused")).Result(); err != nil || n != 0 {
		t.Fatalf("order hash still there after the retention (exists=%d, %v)", n, err)
	}
	// The index still names it until the next placement trims it: Orders
	// and LookupOrder must take it as gone, not as a corrupt record.
	if got := orders(t, v); len(got) != 0 {
		t.Fatalf("Orders after the retention: %+v, want none", got)
	}
	if _, found, err := v.LookupOrder(ctx, "BTCUSDT", "x-reused"); found || err != nil {
		t.Fatalf("LookupOrder after the retention: found=%v err=%v", found, err)
	}
	other := place(t, v, marketOrder("x-other", "ETHUSDT", market.Buy, "1"))
	if _, err := env.Client.ZScore(ctx, v.ordersKey(), "x-reused").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("index entry of the expired order after the next placement: %v, want gone", err)
	}
	if got := orders(t, v); len(got) != 1 || got[0].OrderState != other {
		t.Fatalf("Orders: %+v, want only x-other", got)
	}
	// After the window the venue no longer knows the id: a new order.
	renewed := place(t, v, marketOrder("x-reused", "BTCUSDT", market.Buy, "0.02"))
	if renewed.ExchangeOrderID == first.ExchangeOrderID || renewed.FilledQty != "0.02" {
		t.Fatalf("reused id after the retention: %+v, want a new order (first was %s)", renewed, first.ExchangeOrderID)
	}
}

// TestIndexBoundedByTheRetention: placing steadily for several windows
// keeps the index and the order hashes to about one window's orders.
func TestIndexBoundedByTheRetention(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	const retention = 300 * time.Millisecond
	v, err := newVenue(t, env, testPrices).WithRetention(retention)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	for time.Since(start) < 4*retention {
		o := marketOrder(market.ClientOrderID("bound-"+time.Now().Format("150405.000000000")), "BTCUSDT", market.Buy, "0.001")
		place(t, v, o)
		n++
		time.Sleep(5 * time.Millisecond)
	}
	perWindow := float64(n) * float64(retention) / float64(time.Since(start))
	idx, err := env.Client.ZCard(ctx, v.ordersKey()).Result()
	if err != nil {
		t.Fatal(err)
	}
	hashes := 0
	iter := env.Client.Scan(ctx, 0, env.Keys.Key("paper:order:*"), 1000).Iterator()
	for iter.Next(ctx) {
		hashes++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	// A window's orders, with slack for the clock and timer granularity;
	// without expiry both would be n (about 4 windows).
	if limit := int64(1.5*perWindow) + 2; idx > limit || int64(hashes) > limit {
		t.Fatalf("%d orders placed (%.0f per window): index %d, hashes %d, want at most %d", n, perWindow, idx, hashes, limit)
	}
}

// TestRecentOrdersAfterExpiry: reconciliation's listing reads from the
// index by placement time, leaves out what expired, and lists what is
// within the retention.
func TestRecentOrdersAfterExpiry(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	const retention = 500 * time.Millisecond
	v, err := newVenue(t, env, testPrices).WithRetention(retention)
	if err != nil {
		t.Fatal(err)
	}
	old := market.ClientOrderID("recent-old")
	place(t, v, marketOrder(old, "BTCUSDT", market.Buy, "0.01"))
	time.Sleep(retention + 200*time.Millisecond)
	fresh := market.ClientOrderID("recent-fresh")
	place(t, v, marketOrder(fresh, "BTCUSDT", market.Buy, "0.01"))
	place(t, v, marketOrder("foreign-prefix-order", "BTCUSDT", market.Buy, "0.01"))
	got, err := v.RecentOrders(ctx, "BTCUSDT", market.ClientOrderIDPrefix, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ClientOrderID != fresh {
		t.Fatalf("RecentOrders: %+v, want only %s (the expired one and the foreign prefix left out)", got, fresh)
	}
	if got, err := v.RecentOrders(ctx, "BTCUSDT", market.ClientOrderIDPrefix, time.Now().Add(time.Second)); err != nil || len(got) != 0 {
		t.Fatalf("RecentOrders since the future: %+v %v", got, err)
	}
}

// TestRetentionOption: the default covers the apply layer's default record
// TTL (the venue's dedupe outlives every record), and a retention under a
// millisecond is refused.
func TestRetentionOption(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	if v.Retention() != DefaultOrderRetention || DefaultOrderRetention < applylayer.DefaultRecordTTL {
		t.Fatalf("retention %s (default %s), want at least the record TTL %s", v.Retention(), DefaultOrderRetention, applylayer.DefaultRecordTTL)
	}
	if _, err := v.WithRetention(0); err == nil {
		t.Fatal("WithRetention(0) accepted")
	}
	var _ exchange.OrderHistory = v
}
