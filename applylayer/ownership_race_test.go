package applylayer_test

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// raceTrials is how many entry/non-owner pairs each replica count races
// (QUANTUM_RACE_TRIALS overrides, for a longer run by hand).
func raceTrials() int {
	if n, err := strconv.Atoi(os.Getenv("QUANTUM_RACE_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 500
}

// TestOwnershipRaceAcrossReplicas races, on one flat symbol at a time, an
// entry of intent_bridge against a non-owner's opposite-side order, sent at
// the same instant to two and to three replicas. Whichever comes first, the
// other is then an exit by a non-owner: at most one of the pair may execute.
// Afterwards the paper venue's own order log (in the order the venue
// executed them) is replayed: no order of a non-owner ever reduced a
// position. Before the per-symbol lease, about one trial in four let the
// non-owner close the long.
func TestOwnershipRaceAcrossReplicas(t *testing.T) {
	for _, replicas := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			env := redistest.New(t)
			w := newWorld(t, env.Client, env.Keys)
			for i := range replicas {
				w.start(func(c *applylayer.Config) { c.Consumer = fmt.Sprintf("replica-%d", i); c.Batch = 8 })
			}
			symbols := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT"}
			qty := map[string]string{"BTCUSDT": "0.01", "ETHUSDT": "0.1", "SOLUSDT": "1"}
			trials := raceTrials()
			both := make([]int, len(symbols))
			var wg sync.WaitGroup
			for si, sym := range symbols {
				wg.Add(1)
				go func() { // the symbols race in parallel; the trials of one symbol in turn
					defer wg.Done()
					for i := si; i < trials; i += len(symbols) {
						entry := sign(w.fields("intent_bridge", sym, "BUY", qty[sym], false))
						rogue := sign(w.fields("rogue", sym, "SELL", qty[sym], false))
						var send sync.WaitGroup
						for _, f := range []map[string]string{entry, rogue} {
							send.Add(1)
							go func() { defer send.Done(); w.xadd(f) }()
						}
						send.Wait()
						a, b := w.result(entry["plan_id"], 1)[0], w.result(rogue["plan_id"], 1)[0]
						if a["decision"] == "EXECUTED" && b["decision"] == "EXECUTED" {
							both[si]++
						}
						// Flatten with the owner, so the next trial starts flat.
						if pos := w.position(sym); pos != 0 {
							side := "SELL"
							if pos < 0 {
								side = "BUY"
							}
							amt := strconv.FormatFloat(max(pos, -pos), 'f', -1, 64)
							wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", sym, side, amt, true))), "EXECUTED", "")
						}
					}
				}()
			}
			wg.Wait()
			total := 0
			for _, n := range both {
				total += n
			}
			if total != 0 {
				t.Errorf("%d of %d trials executed both the entry and the non-owner's opposite order", total, trials)
			}
			if n := replayNonOwnerExits(t, w); n != 0 {
				t.Errorf("the venue's order log holds %d non-owner orders that reduced a position", n)
			}
			t.Logf("%d replicas, %d trials: %d with both executed", replicas, trials, total)
		})
	}
}

// replayNonOwnerExits replays the paper venue's orders in execution order
// (order ids are assigned atomically by the venue) and counts the orders of
// a source other than the exit owner that reduced a position.
func replayNonOwnerExits(t *testing.T, w *world) int {
	t.Helper()
	orders, err := w.venue.Orders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	source := map[string]string{}
	for _, r := range redistest.StreamEntries(t, w.rdb, w.ks.ApplyResult()) {
		if r["client_order_id"] != "" {
			source[r["client_order_id"]] = r["source"]
		}
	}
	pos := map[string]*big.Rat{}
	bad := 0
	for _, o := range orders { // oldest first
		q, ok := new(big.Rat).SetString(o.FilledQty)
		if !ok {
			t.Fatalf("order %s: filled %q", o.ClientOrderID, o.FilledQty)
		}
		if o.Side == market.Sell {
			q.Neg(q)
		}
		p := pos[o.Symbol]
		if p == nil {
			p = new(big.Rat)
			pos[o.Symbol] = p
		}
		reduces := p.Sign() != 0 && p.Sign() != q.Sign()
		if src := source[o.ClientOrderID]; reduces && src != "exitbrain_v3_5" {
			bad++
			t.Logf("order %s of %s (%s %s) reduced the %s position %s", o.ExchangeOrderID, src, o.Side, o.FilledQty, o.Symbol, p.FloatString(8))
		}
		p.Add(p, q)
	}
	return bad
}
