package paper

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// TestConcurrentReplicas has replicas (each a Venue with its own client and
// its own marks) place the same ids at once with requests that differ per
// replica: each id must end as exactly one order that every caller saw, and
// each position must be the sum of those orders' fills.
func TestConcurrentReplicas(t *testing.T) {
	env := redistest.New(t)
	const replicas, workers, ids = 4, 32, 200
	venues := make([]*Venue, replicas)
	for i := range venues {
		c := env.Server.Client()
		t.Cleanup(func() { c.Close() })
		v, err := New(c, env.Keys, map[string]string{"BTCUSDT": fmt.Sprint(60000 + i), "ETHUSDT": fmt.Sprint(3000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		venues[i] = v
	}
	symbols := []string{"BTCUSDT", "ETHUSDT"}
	seen := make([]map[string]exchange.OrderState, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			v := venues[w%replicas]
			seen[w] = map[string]exchange.OrderState{}
			for _, i := range r.Perm(ids) {
				id := fmt.Sprintf("c-%d", i)
				if i%3 == 0 { // a third of the ids only worker 0 places: distinct orders
					if w != 0 {
						continue
					}
				}
				side := market.Buy
				if r.IntN(2) == 0 {
					side = market.Sell
				}
				o := marketOrder(id, symbols[i%2], side, fmt.Sprintf("0.%03d", 1+r.IntN(999)))
				if r.IntN(4) == 0 {
					o.Type, o.Price = market.Limit, "1" // rests when BUY, fills when SELL
				}
				st, err := v.PlaceOrder(context.Background(), o)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				seen[w][id] = st
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	recs := orders(t, venues[0])
	if len(recs) != ids {
		t.Fatalf("%d orders, want one per id: %d", len(recs), ids)
	}
	byID := map[string]OrderRecord{}
	orderIDs := map[string]bool{}
	sum := map[string]int64{}
	for _, r := range recs {
		if _, dup := byID[r.ClientOrderID]; dup {
			t.Fatalf("two orders for %s", r.ClientOrderID)
		}
		byID[r.ClientOrderID] = r
		orderIDs[r.ExchangeOrderID] = true
		sum[r.Symbol] += signedFill(t, r)
	}
	if len(orderIDs) != ids {
		t.Fatalf("%d distinct exchange order ids, want %d", len(orderIDs), ids)
	}
	for w, m := range seen {
		for id, st := range m {
			if st != byID[id].OrderState {
				t.Fatalf("worker %d got %+v for %s, the venue holds %+v", w, st, id, byID[id].OrderState)
			}
		}
	}
	for _, sym := range symbols {
		amt, _ := position(t, venues[0], sym)
		if got := signedE8(t, amt); got != sum[sym] {
			t.Errorf("%s position %s, the orders' fills sum to %s", sym, amt, formatE8(sum[sym]))
		}
	}
}
