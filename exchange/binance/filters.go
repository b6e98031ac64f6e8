package binance

import (
	"context"
	"fmt"
	"math/big"
	"net/http"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/market"
)

// symbolFilters are the filters of one symbol (GET /fapi/v1/exchangeInfo,
// "symbols[].filters"), parsed into exact decimals.
type symbolFilters struct {
	status                     string
	tick, minPrice, maxPrice   *big.Rat // PRICE_FILTER (nil: none)
	lot                        lotSize  // LOT_SIZE
	marketLot                  *lotSize // MARKET_LOT_SIZE (nil: LOT_SIZE applies)
	minNotional                *big.Rat // MIN_NOTIONAL "notional" (nil: none)
	multiplierUp, multiplierDn *big.Rat // PERCENT_PRICE (nil: none)
	err                        error    // a filter that did not parse: the symbol is not traded
}

type lotSize struct {
	min, max, step *big.Rat
	stepText       string
}

type exchangeInfo struct {
	RateLimits []RateLimit `json:"rateLimits"`
	Symbols    []struct {
		Symbol  string           `json:"symbol"`
		Status  string           `json:"status"`
		Filters []map[string]any `json:"filters"`
	} `json:"symbols"`
}

// loadFilters reads exchangeInfo and replaces the cached filters.
func (c *Client) loadFilters(ctx context.Context) error {
	var info exchangeInfo
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/exchangeInfo"}, &info); err != nil {
		return fmt.Errorf("binance: exchange filters: %w", err)
	}
	c.cfg.Limiter.SetLimits(info.RateLimits)
	m := make(map[string]*symbolFilters, len(info.Symbols))
	for _, s := range info.Symbols {
		m[s.Symbol] = parseFilters(s.Status, s.Filters)
	}
	c.mu.Lock()
	c.filters, c.filtersAt = m, c.cfg.Now()
	c.mu.Unlock()
	return nil
}

func (c *Client) symbolCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.filters)
}

// filtersFor returns the symbol's filters, re-reading exchangeInfo when the
// cache is older than FilterTTL or does not know the symbol. An unknown
// symbol is refused (-1121); exchangeInfo unreadable is ErrUnavailable.
func (c *Client) filtersFor(ctx context.Context, symbol string) (*symbolFilters, error) {
	c.mu.Lock()
	f, ok := c.filters[symbol]
	fresh := c.filters != nil && c.cfg.Now().Sub(c.filtersAt) < c.cfg.FilterTTL
	c.mu.Unlock()
	if !ok || !fresh {
		if err := c.loadFilters(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		f, ok = c.filters[symbol]
		c.mu.Unlock()
	}
	if !ok {
		return nil, notSent(exchange.CodeInvalidSymbol, "symbol %s is not listed in exchangeInfo", symbol)
	}
	if f.err != nil {
		return nil, notSent(exchange.CodeInvalidSymbol, "symbol %s: %v", symbol, f.err)
	}
	if f.status != "TRADING" {
		return nil, notSent(exchange.CodeInvalidSymbol, "symbol %s has status %s, not TRADING", symbol, f.status)
	}
	return f, nil
}

// notSent is a refusal by the adapter before anything was sent, with the
// code the venue would have answered.
func notSent(code int, format string, a ...any) *exchange.Rejected {
	return &exchange.Rejected{Code: code, Msg: "not sent: " + fmt.Sprintf(format, a...)}
}

func parseFilters(status string, filters []map[string]any) *symbolFilters {
	f := &symbolFilters{status: status}
	num := func(m map[string]any, k string) *big.Rat {
		if f.err != nil {
			return nil
		}
		s, _ := m[k].(string)
		if s == "" {
			// multiplierDecimal and friends may be numbers; the ones read here are text.
			f.err = fmt.Errorf("filter %v: field %s missing", m["filterType"], k)
			return nil
		}
		r, err := parseDecimal(s)
		if err != nil {
			f.err = fmt.Errorf("filter %v: field %s %q: %w", m["filterType"], k, s, err)
		}
		return r
	}
	lot := func(m map[string]any) lotSize {
		l := lotSize{min: num(m, "minQty"), max: num(m, "maxQty"), step: num(m, "stepSize")}
		l.stepText, _ = m["stepSize"].(string)
		return l
	}
	hasLot := false
	for _, m := range filters {
		switch m["filterType"] {
		case "PRICE_FILTER":
			f.tick, f.minPrice, f.maxPrice = num(m, "tickSize"), num(m, "minPrice"), num(m, "maxPrice")
		case "LOT_SIZE":
			f.lot, hasLot = lot(m), true
		case "MARKET_LOT_SIZE":
			// Binance lists it for every symbol, some with a stepSize of 0:
			// then LOT_SIZE's step (and bounds) apply to market orders too.
			if l := lot(m); f.err == nil && l.step.Sign() > 0 {
				f.marketLot = &l
			}
		case "MIN_NOTIONAL":
			f.minNotional = num(m, "notional")
		case "PERCENT_PRICE":
			f.multiplierUp, f.multiplierDn = num(m, "multiplierUp"), num(m, "multiplierDown")
		}
	}
	if f.err == nil && !hasLot {
		f.err = fmt.Errorf("no LOT_SIZE filter")
	}
	if f.err == nil && f.lot.step.Sign() <= 0 {
		f.err = fmt.Errorf("a LOT_SIZE step size of 0")
	}
	return f
}

// checked is an order after the filters: the quantity and price as sent.
type checked struct {
	qty, price string
}

// apply checks o against f. mark is the mark price (needed for a MARKET
// order's notional and a LIMIT order's collar; nil when not needed).
func (f *symbolFilters) apply(o exchange.Order, mark *big.Rat) (checked, *exchange.Rejected) {
	qty, err := parseDecimal(o.Qty)
	if err != nil || qty.Sign() <= 0 {
		return checked{}, notSent(exchange.CodeBadParameter, "quantity %q is not a decimal > 0", o.Qty)
	}
	lot := f.lot
	if o.Type == market.Market && f.marketLot != nil {
		lot = *f.marketLot
	}
	// The docs: (quantity - minQty) % stepSize == 0, so the steps count
	// from minQty.
	if qty.Cmp(lot.min) < 0 {
		return checked{}, notSent(CodeQtyTooSmall, "quantity %s is below the minimum %s", o.Qty, formatDecimal(lot.min, 8))
	}
	q := new(big.Rat).Add(lot.min, floorToStep(new(big.Rat).Sub(qty, lot.min), lot.step))
	if q.Sign() <= 0 {
		return checked{}, notSent(CodeQtyNotPositive, "quantity %s rounded down to the step %s is 0", o.Qty, lot.stepText)
	}
	if lot.max.Sign() > 0 && q.Cmp(lot.max) > 0 {
		return checked{}, notSent(CodeQtyTooLarge, "quantity %s is above the maximum %s", o.Qty, formatDecimal(lot.max, 8))
	}
	out := checked{qty: formatDecimal(q, max(places(lot.stepText), places(formatDecimal(lot.min, 18))))}
	var notional *big.Rat
	switch o.Type {
	case market.Market:
		if mark != nil {
			notional = new(big.Rat).Mul(q, mark)
		}
	case market.Limit:
		price, err := parseDecimal(o.Price)
		if err != nil || price.Sign() <= 0 {
			return checked{}, notSent(exchange.CodeBadParameter, "price %q is not a decimal > 0", o.Price)
		}
		if f.minPrice != nil && f.minPrice.Sign() > 0 && price.Cmp(f.minPrice) < 0 {
			return checked{}, notSent(CodePriceTooLow, "price %s is below the minimum price %s", o.Price, formatDecimal(f.minPrice, 8))
		}
		if f.maxPrice != nil && f.maxPrice.Sign() > 0 && price.Cmp(f.maxPrice) > 0 {
			return checked{}, notSent(CodePriceTooHigh, "price %s is above the maximum price %s", o.Price, formatDecimal(f.maxPrice, 8))
		}
		// The docs: (price - minPrice) % tickSize == 0.
		base := new(big.Rat)
		if f.minPrice != nil {
			base = f.minPrice
		}
		if f.tick != nil && f.tick.Sign() > 0 && !isMultiple(new(big.Rat).Sub(price, base), f.tick) {
			return checked{}, notSent(CodeTickSize, "price %s is not the minimum price %s plus a multiple of the tick size %s",
				o.Price, formatDecimal(base, 8), formatDecimal(f.tick, 8))
		}
		// PERCENT_PRICE: BUY at most mark × multiplierUp, SELL at least mark × multiplierDown.
		if mark != nil && f.multiplierUp != nil {
			if hi := new(big.Rat).Mul(mark, f.multiplierUp); o.Side == market.Buy && price.Cmp(hi) > 0 {
				return checked{}, notSent(CodePriceAboveCollar, "limit price %s is above the collar %s (mark %s × %s)",
					o.Price, formatDecimal(hi, 8), formatDecimal(mark, 8), formatDecimal(f.multiplierUp, 8))
			}
			if lo := new(big.Rat).Mul(mark, f.multiplierDn); o.Side == market.Sell && price.Cmp(lo) < 0 {
				return checked{}, notSent(CodePriceBelowCollar, "limit price %s is below the collar %s (mark %s × %s)",
					o.Price, formatDecimal(lo, 8), formatDecimal(mark, 8), formatDecimal(f.multiplierDn, 8))
			}
		}
		notional = new(big.Rat).Mul(q, price)
		out.price = formatDecimal(price, 8)
	default:
		return checked{}, notSent(exchange.CodeBadParameter, "order type %q is not MARKET or LIMIT", o.Type)
	}
	// MIN_NOTIONAL does not apply to reduce-only orders at Binance ("unless
	// you choose reduce only"), so a small position can always be closed.
	if !o.ReduceOnly && f.minNotional != nil && notional != nil && notional.Cmp(f.minNotional) < 0 {
		return checked{}, notSent(CodeMinNotional, "notional %s (quantity %s) is below the minimum %s",
			formatDecimal(notional, 8), out.qty, formatDecimal(f.minNotional, 8))
	}
	return out, nil
}

// CheckSymbol reports whether symbol is listed, TRADING and has filters
// the adapter can apply (what PlaceOrder would refuse it for otherwise).
func (c *Client) CheckSymbol(ctx context.Context, symbol string) error {
	_, err := c.filtersFor(ctx, symbol)
	return err
}
