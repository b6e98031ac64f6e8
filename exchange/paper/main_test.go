package paper

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// testPrices are the marks most tests trade at.
var testPrices = map[string]string{"BTCUSDT": "65000.5", "ETHUSDT": "3000"}

func newVenue(t testing.TB, env *redistest.Env, prices map[string]string) *Venue {
	t.Helper()
	v, err := New(env.Client, env.Keys, prices)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func marketOrder(id, symbol string, side market.Side, qty string) exchange.Order {
	return exchange.Order{ClientOrderID: id, Symbol: symbol, Side: side, Type: market.Market, Qty: qty}
}

func limitOrder(id, symbol string, side market.Side, qty, price string) exchange.Order {
	return exchange.Order{ClientOrderID: id, Symbol: symbol, Side: side, Type: market.Limit, Qty: qty, Price: price}
}

func reduceOnly(o exchange.Order) exchange.Order { o.ReduceOnly = true; return o }

func place(t testing.TB, v *Venue, o exchange.Order) exchange.OrderState {
	t.Helper()
	st, err := v.PlaceOrder(context.Background(), o)
	if err != nil {
		t.Fatalf("PlaceOrder(%+v): %v", o, err)
	}
	return st
}

// rejectCode returns the code of a *exchange.Rejected, failing otherwise.
func rejectCode(t testing.TB, err error) int {
	t.Helper()
	var r *exchange.Rejected
	if !errors.As(err, &r) {
		t.Fatalf("want *exchange.Rejected, got %v", err)
	}
	return r.Code
}

// position returns symbol's stored position (amount and entry price texts),
// "0" "0" when the venue has none.
func position(t tb, v *Venue, symbol string) (amount, entry string) {
	t.Helper()
	for _, p := range mustPositions(t, v) {
		if p.Symbol == symbol {
			return p.Amount, p.EntryPrice
		}
	}
	return "0", "0"
}

func mustPositions(t tb, v *Venue) []PositionState {
	t.Helper()
	ps, err := v.Positions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func orders(t testing.TB, v *Venue) []OrderRecord {
	t.Helper()
	os, err := v.Orders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return os
}

// signedE8 parses a signed canonical decimal into 1e-8 units.
func signedE8(t tb, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	n, err := parseE8(strings.TrimPrefix(s, "-"))
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	if neg {
		return -n
	}
	return n
}

// signedFill is an order record's fill as a signed quantity in 1e-8 units.
func signedFill(t tb, r OrderRecord) int64 {
	t.Helper()
	n := signedE8(t, r.FilledQty)
	if r.Side == market.Sell {
		return -n
	}
	return n
}
