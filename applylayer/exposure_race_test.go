package applylayer_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// exposureTrials is how many times each cap's race is run
// (QUANTUM_EXPOSURE_TRIALS overrides, for a longer run by hand).
func exposureTrials() int { return envTrials("QUANTUM_EXPOSURE_TRIALS", 200) }

// envTrials returns the positive number in the environment variable name,
// else def: how many trials a race test runs.
func envTrials(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// tenSymbols are the race's universe: S0USDT..S9USDT, each at 100 USDT.
func tenSymbols() ([]string, map[string]string) {
	var syms []string
	marks := map[string]string{}
	for i := range 10 {
		s := fmt.Sprintf("S%dUSDT", i)
		syms = append(syms, s)
		marks[s] = "100"
	}
	return syms, marks
}

// TestExposureCapsRaceAcrossReplicas sends ten entries of 1000 USDT at the
// same instant to two replicas (two Services, each with its own paper
// venue on the one Redis), against a cap that fits two of them, and counts
// what executed: exactly two, every trial. The caps: the gross exposure
// and the open-position count with the ten entries on ten symbols (the
// account reservation makes them atomic), and a position cap with the ten
// on one symbol (the symbol lease does). After every trial the owner
// flattens, and the account reservation must hold no entry (every one was
// cleared on its fill or its denial).
func TestExposureCapsRaceAcrossReplicas(t *testing.T) {
	syms, marks := tenSymbols()
	for _, c := range []struct {
		name      string
		limit     func(p *policy.Policy)
		oneSymbol bool
		code      reason.Code
	}{
		{"gross exposure, ten symbols", func(p *policy.Policy) { p.MaxGrossExposureUSDT = 2500 }, false, reason.GrossExposureExceedsMax},
		{"open positions, ten symbols", func(p *policy.Policy) { p.MaxOpenPositions = 2 }, false, reason.MaxOpenPositionsReached},
		{"position notional, one symbol", func(p *policy.Policy) { p.MaxPositionNotionalUSDTBySymbol = map[string]float64{"S0USDT": 2500} }, true, reason.PositionNotionalExceedsMax},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := redistest.New(t)
			w := newWorld(t, env.Client, env.Keys)
			w.publish(func(p *policy.Policy) {
				p.UniverseSymbols = syms
				p.LeverageBySymbol = map[string]int{}
				for _, s := range syms {
					p.LeverageBySymbol[s] = 5
				}
				c.limit(p)
			})
			for i := range 2 {
				v, err := paper.New(env.Client, env.Keys, marks)
				if err != nil {
					t.Fatal(err)
				}
				w.startOn(slowVenue{v}, func(cfg *applylayer.Config) { cfg.Consumer = fmt.Sprintf("replica-%d", i); cfg.Batch = 4 })
			}
			w.venue, _ = paper.New(env.Client, env.Keys, marks)
			trials := exposureTrials()
			wrong := 0
			for trial := range trials {
				entries := make([]map[string]string, 10)
				for i := range entries {
					sym := syms[i]
					if c.oneSymbol {
						sym = syms[0]
					}
					entries[i] = sign(w.fields("intent_bridge", sym, "BUY", "10", false))
				}
				var send sync.WaitGroup
				for _, f := range entries {
					send.Add(1)
					go func() { defer send.Done(); w.xadd(f) }()
				}
				send.Wait()
				executed := 0
				for _, f := range entries {
					r := w.result(f["plan_id"], 1)[0]
					switch {
					case r["decision"] == "EXECUTED":
						executed++
					case r["reason"] != string(c.code):
						t.Fatalf("trial %d: an entry was %s %s, want EXECUTED or %s: %v", trial, r["decision"], r["reason"], c.code, r)
					}
				}
				if executed != 2 {
					wrong++
					t.Errorf("trial %d: %d of 10 entries executed against a cap that fits 2", trial, executed)
				}
				if got := reserved(t, w); len(got) != 0 {
					t.Fatalf("trial %d: the account reservation still holds %v after every plan finished", trial, got)
				}
				w.flatten(syms)
			}
			t.Logf("%s: %d trials of 10 entries on 2 replicas, %d with other than 2 executed", c.name, trials, wrong)
		})
	}
}

// slowVenue is the paper venue a network away: every order takes 2 ms to
// reach it, as a real venue's do (more), which is when another replica
// decides on positions that do not hold the order yet.
type slowVenue struct{ *paper.Venue }

func (v slowVenue) PlaceOrder(ctx context.Context, o exchange.Order) (exchange.OrderState, error) {
	time.Sleep(2 * time.Millisecond)
	return v.Venue.PlaceOrder(ctx, o)
}

// reserved returns the entries the account reservation holds.
func reserved(t *testing.T, w *world) []string {
	t.Helper()
	h, err := w.rdb.HGetAll(context.Background(), w.ks.ApplyExposure()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, v := range h {
		if strings.HasPrefix(k, "f:") {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// flatten closes every position in symbols with the owner.
func (w *world) flatten(symbols []string) {
	w.t.Helper()
	for _, sym := range symbols {
		pos := w.position(sym)
		if pos == 0 {
			continue
		}
		side := "SELL"
		if pos < 0 {
			side = "BUY"
		}
		amt := strconv.FormatFloat(max(pos, -pos), 'f', -1, 64)
		wantResult(w.t, w.send(sign(w.fields("exitbrain_v3_5", sym, side, amt, true))), "EXECUTED", "")
	}
}
