package binance_test

import (
	"context"
	"fmt"
	"testing"

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
