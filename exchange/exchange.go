// Package exchange is what the apply layer needs of a futures venue: place
// an order under a client order id, look an order up by that id, read a
// position, a mark price, and set leverage. Implementations: exchange/paper
// (a simulated USD-M venue kept in Redis) and exchange/binance (Binance
// USD-M futures).
//
// Errors are classified so the apply layer can stay exactly-once:
// *Rejected means the venue refused the order (nothing was placed);
// ErrUnavailable means the venue could not be reached before anything was
// sent; ErrUnknownOutcome means the request may or may not have been
// executed, so the caller must reconcile by client order id and never
// blindly retry.
package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/market"
)

// Order is one order to place. Quantities and prices are decimal text as
// the producer sent them, so no float rounding reaches the venue.
type Order struct {
	ClientOrderID string // ^[\.A-Z\:/a-z0-9_-]{1,36}$, derived from the plan id
	Symbol        string
	Side          market.Side
	Type          market.OrderType
	Qty           string // decimal, > 0
	Price         string // decimal, LIMIT only
	ReduceOnly    bool
	// TimeInForce of a LIMIT order: "" (good till cancelled, it may rest)
	// or IOC (immediate or cancel: what does not fill at once expires, so
	// nothing rests at the venue). The apply layer sends every LIMIT of a
	// source that may not exit as IOC: a resting order could otherwise fill
	// later as an exit of a position opened since.
	TimeInForce string
}

// IOC is the immediate-or-cancel time in force.
const IOC = "IOC"

// Status of an order at the venue.
type Status string

// Order statuses (Binance's names).
const (
	StatusNew             Status = "NEW"
	StatusPartiallyFilled Status = "PARTIALLY_FILLED"
	StatusFilled          Status = "FILLED"
	StatusCanceled        Status = "CANCELED"
	StatusRejected        Status = "REJECTED"
	StatusExpired         Status = "EXPIRED"
	StatusExpiredInMatch  Status = "EXPIRED_IN_MATCH" // expired by self-trade prevention
)

// Final reports whether an order in status s can change no more: FILLED,
// CANCELED, REJECTED, EXPIRED or EXPIRED_IN_MATCH. NEW and
// PARTIALLY_FILLED rest at the venue; an unknown status is not final.
func (s Status) Final() bool {
	switch s {
	case StatusFilled, StatusCanceled, StatusRejected, StatusExpired, StatusExpiredInMatch:
		return true
	}
	return false
}

// OrderState is an order as the venue knows it.
type OrderState struct {
	ClientOrderID   string
	ExchangeOrderID string
	Symbol          string
	Side            market.Side
	Status          Status
	FilledQty       string // decimal
	AvgPrice        string // decimal; "0" when nothing filled
	// OrigQty is the quantity the venue took (after rounding it down to
	// the symbol's step), decimal; "" when the venue did not say (results
	// then record the plan's quantity).
	OrigQty string
}

// Filled reports whether any of the order filled (FilledQty > 0). A
// FilledQty that is not a decimal counts as filled: the caller must not
// take such an order for one that did nothing.
func (o OrderState) Filled() bool {
	if o.FilledQty == "" {
		return false
	}
	for _, c := range o.FilledQty {
		switch {
		case c >= '1' && c <= '9':
			return true
		case c != '0' && c != '.':
			return true
		}
	}
	return false
}

// OrderHistory is what a venue offers to reconcile beyond a look-up by
// client order id: the account's recent orders in a symbol whose client
// order id starts with prefix (market.ClientOrderIDPrefix), created at or
// after since, oldest first. A client order id may appear more than once
// (Binance keeps ids unique among open orders only).
type OrderHistory interface {
	RecentOrders(ctx context.Context, symbol, prefix string, since time.Time) ([]OrderState, error)
}

// Venue is the interface the apply layer consumes.
type Venue interface {
	// PlaceOrder places o. Placing an id the venue already holds returns
	// that order as it stands (no second order): the caller may retry an
	// unknown outcome with the same id.
	PlaceOrder(ctx context.Context, o Order) (OrderState, error)
	// LookupOrder returns the order with the client order id, and whether
	// the venue knows it. ErrUnknownOutcome means the venue cannot tell
	// yet (an attempt whose outcome was unknown may still reach it): ask
	// again later, and neither place the order nor take it for absent.
	LookupOrder(ctx context.Context, symbol, clientOrderID string) (OrderState, bool, error)
	// Position returns the signed position amount in symbol (one-way mode:
	// > 0 long, < 0 short, 0 flat), as a float for gating only.
	Position(ctx context.Context, symbol string) (float64, error)
	// MarkPrice returns the symbol's mark price; an error when the venue has none.
	MarkPrice(ctx context.Context, symbol string) (float64, error)
	// SetLeverage sets the symbol's leverage before an entry.
	SetLeverage(ctx context.Context, symbol string, leverage int) error
}

// Rejected is a refusal by the venue: nothing was placed.
type Rejected struct {
	Code int    // the venue's error code, e.g. -2022 (Binance)
	Msg  string // the venue's message
}

func (r *Rejected) Error() string {
	return fmt.Sprintf("rejected by the venue (code %d): %s", r.Code, r.Msg)
}

// Venue error codes the paper venue shares with Binance USD-M.
const (
	CodeReduceOnlyRejected = -2022 // ReduceOnly Order is rejected
	CodeDuplicateOrderID   = -4116 // ClientOrderId is duplicated
	CodeInvalidSymbol      = -1121 // Invalid symbol / no price
	CodeBadParameter       = -1102 // a mandatory parameter is missing or malformed
)

var (
	// ErrUnavailable: the venue was not reached; nothing was sent.
	ErrUnavailable = errors.New("exchange unavailable")
	// ErrUnknownOutcome: the request was sent and its outcome is unknown
	// (timeout, 5xx): reconcile by client order id.
	ErrUnknownOutcome = errors.New("exchange outcome unknown")
)

type urgentKey struct{}

// Urgent marks ctx as serving an exit (a reduce-only plan): a venue that
// limits its own request rate serves such calls from a share entries
// cannot use, so a flood of entries never starves an exit.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

// IsUrgent reports whether ctx was marked by Urgent.
func IsUrgent(ctx context.Context) bool { v, _ := ctx.Value(urgentKey{}).(bool); return v }
