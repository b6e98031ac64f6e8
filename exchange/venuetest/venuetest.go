// Package venuetest is a hand-written fake of exchange.Venue for the tests
// of the packages that consume it: each method is a function field, so a
// test says exactly what the venue answers (a rejection, an unknown outcome,
// a leverage failure) where the real venues cannot be made to. Unset fields
// fail loudly instead of pretending success. It also records every call.
//
// The paper venue and the Binance adapter against its fake remain the
// venues of end-to-end tests; this one is for the branches they cannot
// reach on demand.
package venuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/quantumtrader/quantum/exchange"
)

// Venue is a function-field exchange.Venue.
type Venue struct {
	PlaceOrderFunc  func(ctx context.Context, o exchange.Order) (exchange.OrderState, error)
	LookupOrderFunc func(ctx context.Context, symbol, clientOrderID string) (exchange.OrderState, bool, error)
	PositionFunc    func(ctx context.Context, symbol string) (float64, error)
	MarkPriceFunc   func(ctx context.Context, symbol string) (float64, error)
	SetLeverageFunc func(ctx context.Context, symbol string, leverage int) error

	mu    sync.Mutex
	calls []Call
}

var _ exchange.Venue = (*Venue)(nil)

// Call is one recorded call: the method and its main argument.
type Call struct {
	Method string
	Symbol string
	Order  exchange.Order // PlaceOrder only
	Arg    string         // the client order id (LookupOrder) or leverage (SetLeverage)
}

// ErrNotSet is what an unset function field answers.
var ErrNotSet = errors.New("venuetest: no function set for this method")

func (v *Venue) record(c Call) {
	v.mu.Lock()
	v.calls = append(v.calls, c)
	v.mu.Unlock()
}

// Calls returns the calls so far, in order.
func (v *Venue) Calls() []Call {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Call(nil), v.calls...)
}

// Count returns how many calls of method were made.
func (v *Venue) Count(method string) int {
	n := 0
	for _, c := range v.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// PlaceOrder implements exchange.Venue.
func (v *Venue) PlaceOrder(ctx context.Context, o exchange.Order) (exchange.OrderState, error) {
	v.record(Call{Method: "PlaceOrder", Symbol: o.Symbol, Order: o, Arg: o.ClientOrderID})
	if v.PlaceOrderFunc == nil {
		return exchange.OrderState{}, fmt.Errorf("PlaceOrder: %w", ErrNotSet)
	}
	return v.PlaceOrderFunc(ctx, o)
}

// LookupOrder implements exchange.Venue.
func (v *Venue) LookupOrder(ctx context.Context, symbol, clientOrderID string) (exchange.OrderState, bool, error) {
	v.record(Call{Method: "LookupOrder", Symbol: symbol, Arg: clientOrderID})
	if v.LookupOrderFunc == nil {
		return exchange.OrderState{}, false, fmt.Errorf("LookupOrder: %w", ErrNotSet)
	}
	return v.LookupOrderFunc(ctx, symbol, clientOrderID)
}

// Position implements exchange.Venue.
func (v *Venue) Position(ctx context.Context, symbol string) (float64, error) {
	v.record(Call{Method: "Position", Symbol: symbol})
	if v.PositionFunc == nil {
		return 0, fmt.Errorf("Position: %w", ErrNotSet)
	}
	return v.PositionFunc(ctx, symbol)
}

// MarkPrice implements exchange.Venue.
func (v *Venue) MarkPrice(ctx context.Context, symbol string) (float64, error) {
	v.record(Call{Method: "MarkPrice", Symbol: symbol})
	if v.MarkPriceFunc == nil {
		return 0, fmt.Errorf("MarkPrice: %w", ErrNotSet)
	}
	return v.MarkPriceFunc(ctx, symbol)
}

// SetLeverage implements exchange.Venue.
func (v *Venue) SetLeverage(ctx context.Context, symbol string, leverage int) error {
	v.record(Call{Method: "SetLeverage", Symbol: symbol, Arg: fmt.Sprint(leverage)})
	if v.SetLeverageFunc == nil {
		return fmt.Errorf("SetLeverage: %w", ErrNotSet)
	}
	return v.SetLeverageFunc(ctx, symbol, leverage)
}
