package paper

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// BenchmarkPlaceOrder places market orders with new ids, one at a time:
// the latency of one PlaceOrder (one EVALSHA round trip).
func BenchmarkPlaceOrder(b *testing.B) {
	env := redistest.New(b)
	v := newVenue(b, env, testPrices)
	ctx := context.Background()
	sides := []market.Side{market.Buy, market.Sell}
	i := 0
	for b.Loop() {
		if _, err := v.PlaceOrder(ctx, marketOrder(fmt.Sprintf("b-%d", i), "BTCUSDT", sides[i%2], "0.001")); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPlaceOrderParallel is the same from GOMAXPROCS goroutines on
// one client: throughput when replicas share the venue.
func BenchmarkPlaceOrderParallel(b *testing.B) {
	env := redistest.New(b)
	v := newVenue(b, env, testPrices)
	ctx := context.Background()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			side := market.Buy
			if i%2 == 0 {
				side = market.Sell
			}
			if _, err := v.PlaceOrder(ctx, marketOrder(fmt.Sprintf("b-%d", i), "BTCUSDT", side, "0.001")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPlaceOrderDuplicate retries one held id: the reconcile path.
func BenchmarkPlaceOrderDuplicate(b *testing.B) {
	env := redistest.New(b)
	v := newVenue(b, env, testPrices)
	ctx := context.Background()
	o := marketOrder("dup", "BTCUSDT", market.Buy, "0.001")
	if _, err := v.PlaceOrder(ctx, o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := v.PlaceOrder(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
}
