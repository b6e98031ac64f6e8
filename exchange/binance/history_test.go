package binance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/market"
)

// TestVenueForgetsUnfilledOrders: as Binance documents, an order that
// ended CANCELED or EXPIRED without a fill is no longer found once it is
// 3 days old, by a look-up or in the recent orders; a filled one is.
func TestVenueForgetsUnfilledOrders(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	r := newRig(t, func(cfg *binance.Config, f *binancefake.Fake) {
		cfg.Now = clock.Now
		f.SetClock(clock.Now, 0)
	})
	ctx := context.Background()
	r.fake.SetLiquidity("BTCUSDT", "0")
	r.place(marketOrder("qt-old-expired", "BTCUSDT", market.Buy, "0.01", false))
	r.fake.SetLiquidity("BTCUSDT", "")
	r.place(marketOrder("qt-old-filled", "BTCUSDT", market.Buy, "0.01", false))
	since := clock.Now().Add(-time.Hour)
	if got, err := r.c.RecentOrders(ctx, "BTCUSDT", "qt-old-", since); err != nil || len(got) != 2 {
		t.Fatalf("recent orders at once: %+v %v", got, err)
	}
	clock.Advance(3*24*time.Hour + time.Minute)
	if _, found, err := r.c.LookupOrder(ctx, "BTCUSDT", "qt-old-expired"); found || err != nil {
		t.Fatalf("expired unfilled order after 3 days: found %v, %v; want forgotten", found, err)
	}
	if st, found, err := r.c.LookupOrder(ctx, "BTCUSDT", "qt-old-filled"); !found || err != nil || st.FilledQty != "0.01" {
		t.Fatalf("filled order after 3 days: %+v %v %v", st, found, err)
	}
	got, err := r.c.RecentOrders(ctx, "BTCUSDT", "qt-old-", since)
	if err != nil || len(got) != 1 || got[0].ClientOrderID != "qt-old-filled" {
		t.Fatalf("recent orders after 3 days: %+v %v", got, err)
	}
}

// TestRecentOrdersPages: more than one page (1,000 orders) of recent
// orders is read to the end, by orderId, oldest first, filtered by prefix.
func TestRecentOrdersPages(t *testing.T) {
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) {
		f.SetRateLimits(binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "MINUTE", IntervalNum: 1, Limit: 1 << 20},
			binancefake.RateLimit{Type: "ORDERS", Interval: "MINUTE", IntervalNum: 1, Limit: 1 << 20})
	})
	ctx := context.Background()
	since := time.Now().Add(-time.Minute)
	for i := range 1205 {
		prefix := "qt-p"
		if i%5 == 0 {
			prefix = "other"
		}
		side := market.Buy
		if i%2 == 1 {
			side = market.Sell
		}
		r.place(marketOrder(fmt.Sprintf("%s-%d", prefix, i), "BTCUSDT", side, "0.002", false))
	}
	got, err := r.c.RecentOrders(ctx, "BTCUSDT", "qt-p", since)
	if err != nil || len(got) != 964 {
		t.Fatalf("%d orders (%v), want 964", len(got), err)
	}
	if got[0].ClientOrderID != "qt-p-1" || got[len(got)-1].ClientOrderID != "qt-p-1204" {
		t.Fatalf("first %s, last %s: want oldest first", got[0].ClientOrderID, got[len(got)-1].ClientOrderID)
	}
	if n := r.fake.Requests("/fapi/v1/allOrders"); n != 2 {
		t.Fatalf("%d allOrders requests, want 2 pages", n)
	}
}
