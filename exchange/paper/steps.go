package paper

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/market"
)

// Quantity steps, like Binance USD-M exchangeInfo's LOT_SIZE stepSize: a
// venue given steps (WithSteps) rounds every order's quantity down to a
// whole multiple of its symbol's step before anything else (never up: an
// order is never larger than asked), first to the 8th decimal place, so
// that Python's str(usd*lev/price) quantities (16-18 decimals) execute;
// the order's orig_qty and OrderState.OrigQty are the rounded quantity. A
// quantity that rounds down to zero is rejected with -1013 (Binance's
// "Filter failure: LOT_SIZE"), nothing placed. A venue without steps (New)
// keeps the strict rule: more than 8 decimals is -1102.

// CodeFilterLotSize is Binance's -1013 "Filter failure: LOT_SIZE".
const CodeFilterLotSize = -1013

// DefaultSteps are Binance USD-M's LOT_SIZE steps of common symbols
// (exchangeInfo, 2026), and DefaultStep is the step of any other symbol.
var DefaultSteps = map[string]string{
	"BTCUSDT": "0.001", "ETHUSDT": "0.001", "BNBUSDT": "0.01", "SOLUSDT": "1",
	"XRPUSDT": "0.1", "DOGEUSDT": "1", "ADAUSDT": "1",
}

// DefaultStep is the step of a symbol absent from DefaultSteps.
const DefaultStep = "0.001"

// WithSteps returns a venue over the same state that rounds quantities
// down to steps (symbol -> decimal step > 0, at most 8 decimal places), and
// to fallback for any other symbol ("" for no rounding of the others).
func (v *Venue) WithSteps(steps map[string]string, fallback string) (*Venue, error) {
	out := *v
	out.steps = make(map[string]int64, len(steps))
	for _, sym := range slices.Sorted(maps.Keys(steps)) {
		if !market.ValidSymbol(sym) {
			return nil, fmt.Errorf("paper step: symbol %q: want 2-20 of A-Z and 0-9", sym)
		}
		n, err := parseStep(sym, steps[sym])
		if err != nil {
			return nil, err
		}
		out.steps[sym] = n
	}
	if fallback != "" {
		n, err := parseStep("other symbols", fallback)
		if err != nil {
			return nil, err
		}
		out.fallbackStep = n
	}
	return &out, nil
}

func parseStep(what, step string) (int64, error) {
	n, err := parseE8(step)
	if err == nil && n <= 0 {
		err = fmt.Errorf("want a step > 0")
	}
	if err != nil {
		return 0, fmt.Errorf("paper step for %s: %q: %w", what, step, err)
	}
	return n, nil
}

// Step returns the step of symbol in units of 1e-8, 0 when none applies.
func (v *Venue) step(symbol string) int64 {
	if n, ok := v.steps[symbol]; ok {
		return n
	}
	return v.fallbackStep
}

// quantity reads an order's quantity: rounded down to the symbol's step
// when the venue has steps, strictly (parseE8) otherwise.
func (v *Venue) quantity(o exchange.Order) (int64, *exchange.Rejected) {
	step := v.step(o.Symbol)
	if step == 0 {
		qty, err := parseE8(o.Qty)
		if err == nil && qty <= 0 {
			err = fmt.Errorf("not > 0")
		}
		if err != nil {
			return 0, rejected(exchange.CodeBadParameter, "Parameter 'quantity' %q is malformed: %v.", o.Qty, err)
		}
		return qty, nil
	}
	qty, err := floorE8(o.Qty)
	if err != nil {
		return 0, rejected(exchange.CodeBadParameter, "Parameter 'quantity' %q is malformed: %v.", o.Qty, err)
	}
	qty -= qty % step
	if qty <= 0 {
		return 0, rejected(CodeFilterLotSize, "Filter failure: LOT_SIZE (quantity %s rounds down to 0 at step %s).", o.Qty, formatE8(step))
	}
	return qty, nil
}

// ParseStep parses one --paper-step flag value, "SYMBOL=STEP" such as
// "BTCUSDT=0.001", into the symbol and the step's canonical text.
func ParseStep(s string) (symbol, step string, err error) {
	sym, st, ok := strings.Cut(s, "=")
	if !ok || !market.ValidSymbol(sym) {
		return "", "", fmt.Errorf("paper step %q: want SYMBOL=STEP, such as BTCUSDT=0.001", s)
	}
	n, err := parseStep(sym, st)
	if err != nil {
		return "", "", err
	}
	return sym, formatE8(n), nil
}

// RoundQty answers what PlaceOrder would take of o's quantity without
// placing anything: the rounded quantity's text, or the rejection PlaceOrder
// would give for it (the shadow venue asks, so that a shadow decides as the
// venue would).
func (v *Venue) RoundQty(o exchange.Order) (string, error) {
	qty, rej := v.quantity(o)
	if rej != nil {
		return "", rej
	}
	return formatE8(qty), nil
}
