package binance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// BenchmarkPlaceOrder places signed MARKET orders with new ids against the
// local fake, one at a time: filters (cached), mark price (cached within
// MarkTTL), the client-side rate limiter (in process), HMAC signature, one
// POST over loopback HTTP/1.1 keep-alive and the fake's verification and
// fill. The venue's own latency is not in it. The fake's limits are raised
// so that neither side refuses.
func BenchmarkPlaceOrder(b *testing.B) {
	benchPlace(b, nil)
}

// BenchmarkPlaceOrderRedisLimiter is BenchmarkPlaceOrder with the limiter
// shared in Redis (one Lua script per request on the test's redis-server,
// a unix socket), as apply-layer replicas run it.
func BenchmarkPlaceOrderRedisLimiter(b *testing.B) {
	env := redistest.New(b)
	benchPlace(b, binance.NewRedisLimiter(env.Client, env.Keys.Prefix()))
}

func benchPlace(b *testing.B, lim *binance.Limiter) {
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	defer f.Close()
	f.SetRateLimits(binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "MINUTE", IntervalNum: 1, Limit: 1 << 30},
		binancefake.RateLimit{Type: "ORDERS", Interval: "MINUTE", IntervalNum: 1, Limit: 1 << 30})
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	c, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds, Limiter: lim})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sides := []market.Side{market.Buy, market.Sell}
	i := 0
	for b.Loop() {
		o := exchange.Order{ClientOrderID: fmt.Sprintf("bench-%d", i), Symbol: "BTCUSDT", Side: sides[i%2], Type: market.Market, Qty: "0.002"}
		if _, err := c.PlaceOrder(ctx, o); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDayPnL reads the day's PnL against the local fake holding
// three open positions and rows income rows since the day began: cached
// (PnLTTL an hour: a mutex and a clock read) and uncached (PnLTTL 1ns:
// every call signs and sends GET /fapi/v1/income, a page per 1,000 rows,
// and GET /fapi/v3/positionRisk over loopback HTTP, and sums the rows in
// decimal). The fake's limits are raised so that neither side refuses.
func BenchmarkDayPnL(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
		rows int
	}{
		{"cached", time.Hour, 200},
		{"uncached-200-rows", time.Nanosecond, 200},
		{"uncached-2500-rows", time.Nanosecond, 2500},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := binancefake.New(apiKey, apiSecret, binancefake.BTC, binancefake.ETH, binancefake.DOGE)
			defer f.Close()
			f.SetRateLimits(binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "MINUTE", IntervalNum: 1, Limit: 1 << 30},
				binancefake.RateLimit{Type: "ORDERS", Interval: "MINUTE", IntervalNum: 1, Limit: 1 << 30})
			since := time.Now().Add(-time.Hour)
			rows := make([]binancefake.Income, bc.rows)
			for i := range rows {
				rows[i] = binancefake.Income{Symbol: "BTCUSDT", Type: []string{"REALIZED_PNL", "COMMISSION"}[i%2], Amount: "-0.12345678",
					Time: since.Add(time.Duration(i) * time.Millisecond)}
			}
			f.AddIncome(rows...)
			f.SetPosition("BTCUSDT", "0.5")
			f.SetPosition("ETHUSDT", "-3")
			f.SetPosition("DOGEUSDT", "1000")
			f.SetMark("BTCUSDT", "64000")
			creds, _ := binance.NewCredentials(apiKey, apiSecret)
			c, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds, PnLTTL: bc.ttl})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for b.Loop() {
				if _, err := c.DayPnL(ctx, since); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(f.Requests("/fapi/v1/income"))/float64(b.N), "income-requests/op")
		})
	}
}
