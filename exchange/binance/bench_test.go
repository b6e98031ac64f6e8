package binance_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/market"
)

// BenchmarkPlaceOrder places signed MARKET orders with new ids against the
// local fake, one at a time: filters (cached), mark price (cached within
// MarkTTL), HMAC signature, one POST over loopback HTTP/1.1 keep-alive and
// the fake's verification and fill. The venue's own latency is not in it.
func BenchmarkPlaceOrder(b *testing.B) {
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	defer f.Close()
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	c, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds})
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
