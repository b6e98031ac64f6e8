package binance_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// replicas opens n adapters on one fake, sharing one Redis limiter
// prefix, as apply-layer replicas do.
func replicas(t *testing.T, n int, limits ...binancefake.RateLimit) (*binancefake.Fake, []*binance.Client) {
	t.Helper()
	env := redistest.New(t)
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	t.Cleanup(f.Close)
	f.SetRateLimits(limits...)
	f.SetPosition("BTCUSDT", "1000")
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	var cs []*binance.Client
	for range n {
		c, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds,
			Limiter: binance.NewRedisLimiter(env.Client, env.Keys.Prefix())})
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return f, cs
}

// TestLimiterReadsExchangeInfo: the limits in force are exchangeInfo's,
// not the defaults.
func TestLimiterReadsExchangeInfo(t *testing.T) {
	_, cs := replicas(t, 1, binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "SECOND", IntervalNum: 2, Limit: 77},
		binancefake.RateLimit{Type: "RAW_REQUESTS", Interval: "MINUTE", IntervalNum: 5, Limit: 61000})
	got := cs[0].RateLimits()
	if len(got) != 1 || got[0].Limit != 77 || got[0].IntervalNum != 2 || got[0].Interval != "SECOND" {
		t.Fatalf("limits %+v, want exchangeInfo's REQUEST_WEIGHT 77/2s only", got)
	}
}

// TestLimiterSharedByReplicas: four replicas, each sending as fast as it
// can (8 goroutines each, 200 orders in all), share one set of windows in
// Redis: the venue never answers 429, and reduce-only orders (one in
// four) are all placed while entries beyond their share are refused
// before the venue. 3 trials.
func TestLimiterSharedByReplicas(t *testing.T) {
	for trial := range 3 {
		f, cs := replicas(t, 4, binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "SECOND", IntervalNum: 1, Limit: 2000},
			binancefake.RateLimit{Type: "ORDERS", Interval: "SECOND", IntervalNum: 1, Limit: 20})
		var exitsFailed, entriesRefused, entriesPlaced atomic.Int64
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for g := range 32 {
			c := cs[g%len(cs)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > 200 {
						return
					}
					exit := i%4 == 0
					o := marketOrder(fmt.Sprintf("qt-s%d-%d", trial, i), "BTCUSDT", market.Buy, "0.002", false)
					if exit {
						o.Side, o.ReduceOnly = market.Sell, true
					}
					_, err := c.PlaceOrder(context.Background(), o)
					var rl *binance.RateLimited
					switch {
					case exit && err != nil:
						exitsFailed.Add(1)
						t.Errorf("exit %d: %v", i, err)
					case err == nil && !exit:
						entriesPlaced.Add(1)
					case errors.As(err, &rl) && rl.Local && errors.Is(err, exchange.ErrUnavailable):
						entriesRefused.Add(1)
					case err != nil:
						t.Errorf("entry %d: %v", i, err)
					}
				}
			}()
		}
		wg.Wait()
		st := f.RateStats()
		if st.Limited != 0 || st.Banned != 0 {
			t.Fatalf("trial %d: the venue answered %d 429s and %d 418s", trial, st.Limited, st.Banned)
		}
		if exitsFailed.Load() != 0 || entriesRefused.Load() == 0 || entriesPlaced.Load() == 0 {
			t.Fatalf("trial %d: exits failed %d, entries placed %d, refused %d", trial, exitsFailed.Load(), entriesPlaced.Load(), entriesRefused.Load())
		}
	}
}

// TestBackoffSharedByReplicas: a 429 one replica meets stops the others
// until its Retry-After, and then they send again.
func TestBackoffSharedByReplicas(t *testing.T) {
	f, cs := replicas(t, 2)
	f.Inject("/fapi/v1/premiumIndex", binancefake.Fault{Status: 429, Code: -1003, Msg: "Too many requests.", RetryAfter: "1"})
	if _, err := cs[0].MarkPrice(context.Background(), "BTCUSDT"); err == nil {
		t.Fatal("429 not returned")
	}
	before := f.Requests("/fapi/v1/premiumIndex")
	_, err := cs[1].MarkPrice(context.Background(), "BTCUSDT")
	var rl *binance.RateLimited
	if !errors.As(err, &rl) || rl.Status != 0 || f.Requests("/fapi/v1/premiumIndex") != before {
		t.Fatalf("the other replica during the back-off: %v (%d requests, want %d)", err, f.Requests("/fapi/v1/premiumIndex"), before)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := cs[1].MarkPrice(context.Background(), "BTCUSDT"); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
}

// TestLimiterFollowsHeaders: weight another process used (the venue's
// X-MBX-USED-WEIGHT header says so) counts: the adapter stops before the
// venue would answer 429.
func TestLimiterFollowsHeaders(t *testing.T) {
	// A day's window: the test never straddles two.
	f, cs := replicas(t, 1, binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "DAY", IntervalNum: 1, Limit: 200})
	// Another client of the same IP, with a limiter of its own, spends
	// about 150 weight.
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	o, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	for range 24 {
		if _, err := o.Position(context.Background(), "BTCUSDT"); err != nil {
			break
		}
	}
	refused := false
	for range 40 {
		_, err := cs[0].Position(context.Background(), "BTCUSDT")
		var rl *binance.RateLimited
		if errors.As(err, &rl) && rl.Local {
			refused = true
			break
		}
	}
	if st := f.RateStats(); !refused || st.Limited != 0 {
		t.Fatalf("refused locally %v, venue 429s %d", refused, st.Limited)
	}
}
