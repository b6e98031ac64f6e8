// Package shadow is the venue of an apply layer in shadow mode: it answers
// what the real venue would have done and never changes anything there.
//
// Reads (Position, MarkPrice) go to the real venue, so every plan is gated
// on the live positions and marks exactly as enforce mode gates it.
// PlaceOrder never reaches the real venue: it answers a complete fill at the
// mark with status FILLED and no exchange order id (nothing was placed),
// or the refusal the real venue would give when it can be told without
// placing (no mark price: -1121, like the paper venue and Binance; a
// quantity under the step, when the venue is a Rounder). The quantity is
// the one the venue would take (Rounder), else the one sent.
// LookupOrder finds nothing (no order was ever placed) and SetLeverage
// changes nothing. The account reads of the exposure limits (PositionsOf,
// DayPnL) go to the real venue too, so the loss stop and the caps decide
// shadow plans on the live account; a real venue without them answers
// ErrUnavailable, which denies entries under those limits as enforce mode
// would. Positions do not move in shadow mode: each plan is
// decided against the positions the old executor produced.
package shadow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/exchange"
)

// Reader is what shadow needs of the real venue: its reads.
type Reader interface {
	Position(ctx context.Context, symbol string) (float64, error)
	MarkPrice(ctx context.Context, symbol string) (float64, error)
}

// Rounder is what a real venue may also answer: the quantity it would take
// of an order (rounded down to its step), or the refusal, without placing
// (exchange/paper). Without it the shadow takes the quantity as sent.
type Rounder interface {
	RoundQty(o exchange.Order) (string, error)
}

// Venue is a shadow venue over a real venue's reads.
type Venue struct{ real Reader }

var _ exchange.Venue = (*Venue)(nil)

// New returns a shadow venue reading from real.
func New(real Reader) (*Venue, error) {
	if real == nil {
		return nil, errors.New("shadow: no venue to read from")
	}
	return &Venue{real: real}, nil
}

// PlaceOrder answers what would have been placed; nothing is.
func (v *Venue) PlaceOrder(ctx context.Context, o exchange.Order) (exchange.OrderState, error) {
	mark, err := v.real.MarkPrice(ctx, o.Symbol)
	if err != nil {
		var rej *exchange.Rejected
		if errors.As(err, &rej) {
			return exchange.OrderState{}, err
		}
		return exchange.OrderState{}, fmt.Errorf("shadow: mark of %s: %w", o.Symbol, exchange.ErrUnavailable)
	}
	qty := o.Qty
	if r, ok := v.real.(Rounder); ok {
		if qty, err = r.RoundQty(o); err != nil {
			return exchange.OrderState{}, err
		}
	} else if q, err := strconv.ParseFloat(o.Qty, 64); err != nil || q <= 0 {
		return exchange.OrderState{}, &exchange.Rejected{Code: exchange.CodeBadParameter, Msg: fmt.Sprintf("Parameter 'quantity' %q is malformed.", o.Qty)}
	}
	return exchange.OrderState{
		ClientOrderID: o.ClientOrderID, Symbol: o.Symbol, Side: o.Side, Status: exchange.StatusFilled,
		FilledQty: qty, OrigQty: qty, AvgPrice: strconv.FormatFloat(mark, 'f', -1, 64),
	}, nil
}

// LookupOrder finds nothing: a shadow never placed an order.
func (v *Venue) LookupOrder(context.Context, string, string) (exchange.OrderState, bool, error) {
	return exchange.OrderState{}, false, nil
}

// Position reads the real venue.
func (v *Venue) Position(ctx context.Context, symbol string) (float64, error) {
	return v.real.Position(ctx, symbol)
}

// MarkPrice reads the real venue.
func (v *Venue) MarkPrice(ctx context.Context, symbol string) (float64, error) {
	return v.real.MarkPrice(ctx, symbol)
}

// SetLeverage changes nothing.
func (v *Venue) SetLeverage(context.Context, string, int) error { return nil }

// PositionsOf reads the real venue's positions of symbols in one call when
// it has one, else one Position each.
func (v *Venue) PositionsOf(ctx context.Context, symbols []string) (map[string]float64, error) {
	if r, ok := v.real.(interface {
		PositionsOf(context.Context, []string) (map[string]float64, error)
	}); ok {
		return r.PositionsOf(ctx, symbols)
	}
	out := make(map[string]float64, len(symbols))
	for _, sym := range symbols {
		q, err := v.real.Position(ctx, sym)
		if err != nil {
			return nil, fmt.Errorf("shadow: position %s: %w", sym, err)
		}
		out[sym] = q
	}
	return out, nil
}

// DayPnL reads the real venue's PnL since since (the daily loss stop's
// figure); a venue that reports none is unavailable for it.
func (v *Venue) DayPnL(ctx context.Context, since time.Time) (float64, error) {
	if r, ok := v.real.(interface {
		DayPnL(context.Context, time.Time) (float64, error)
	}); ok {
		return r.DayPnL(ctx, since)
	}
	return 0, fmt.Errorf("shadow: the venue reports no PnL: %w", exchange.ErrUnavailable)
}
