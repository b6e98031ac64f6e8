package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/market"
)

// order is an order as the venue answers it (POST and GET /fapi/v1/order).
type order struct {
	OrderID       int64  `json:"orderId"`
	ClientOrderID string `json:"clientOrderId"`
	Symbol        string `json:"symbol"`
	Side          string `json:"side"`
	Status        string `json:"status"`
	ExecutedQty   string `json:"executedQty"`
	AvgPrice      string `json:"avgPrice"`
}

func (o order) state() (exchange.OrderState, error) {
	if o.OrderID == 0 || o.ClientOrderID == "" || o.Status == "" {
		return exchange.OrderState{}, fmt.Errorf("binance: order answer without orderId, clientOrderId or status")
	}
	filled, avg := canonical(o.ExecutedQty), canonical(o.AvgPrice)
	return exchange.OrderState{
		ClientOrderID: o.ClientOrderID, ExchangeOrderID: strconv.FormatInt(o.OrderID, 10),
		Symbol: o.Symbol, Side: market.Side(o.Side), Status: exchange.Status(o.Status),
		FilledQty: filled, AvgPrice: avg,
	}, nil
}

// canonical rewrites Binance's "0.00100" and "0.0" as "0.001" and "0".
func canonical(s string) string {
	r, err := parseDecimal(s)
	if err != nil {
		return "0"
	}
	return formatDecimal(r, 18)
}

// PlaceOrder places o (POST /fapi/v1/order) after the exchange filters
// (see the package comment). An id this client sent before is looked up
// first, and a -4116 answer is looked up: either way an order the venue
// holds is returned as it stands and no second order is sent.
func (c *Client) PlaceOrder(ctx context.Context, o exchange.Order) (exchange.OrderState, error) {
	if !market.ValidClientOrderID(o.ClientOrderID) {
		return exchange.OrderState{}, notSent(CodeInvalidClientOrder, "client order id %q is not ^[.A-Z:/a-z0-9_-]{1,36}$", o.ClientOrderID)
	}
	c.mu.Lock()
	again := c.sent.set[o.ClientOrderID]
	c.mu.Unlock()
	if again {
		st, found, err := c.LookupOrder(ctx, o.Symbol, o.ClientOrderID)
		if err != nil {
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: sent before, looking it up: %w", o.ClientOrderID, err)
		}
		if found {
			return st, nil
		}
	}
	f, err := c.filtersFor(ctx, o.Symbol)
	if err != nil {
		return exchange.OrderState{}, err
	}
	var mark *big.Rat
	if (o.Type == market.Market && !o.ReduceOnly && f.minNotional != nil) || (o.Type == market.Limit && f.multiplierUp != nil) {
		text, err := c.markText(ctx, o.Symbol)
		if err != nil {
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: mark price for the filters: %w", o.ClientOrderID, err)
		}
		if mark, err = parseDecimal(text); err != nil {
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: mark price %q: %w", o.ClientOrderID, text, err)
		}
	}
	chk, rej := f.apply(o, mark)
	if rej != nil {
		return exchange.OrderState{}, rej
	}
	if chk.qty != canonical(o.Qty) {
		c.cfg.Log.Info("binance: quantity rounded down to the step", "client_order_id", o.ClientOrderID,
			"symbol", o.Symbol, "qty", o.Qty, "sent", chk.qty)
	}
	p := url.Values{
		"symbol": {o.Symbol}, "side": {string(o.Side)}, "type": {string(o.Type)},
		"quantity": {chk.qty}, "positionSide": {"BOTH"}, "newClientOrderId": {o.ClientOrderID},
		"reduceOnly": {strconv.FormatBool(o.ReduceOnly)}, "newOrderRespType": {"RESULT"},
	}
	if o.Type == market.Limit {
		p.Set("price", chk.price)
		p.Set("timeInForce", "GTC")
	}
	// From here the venue may hold the order: a later PlaceOrder with this
	// id looks it up first.
	c.mu.Lock()
	c.sent.add(o.ClientOrderID)
	c.mu.Unlock()
	var out order
	err = c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/order", params: p, signed: true, mutates: true}, &out)
	var venueRej *exchange.Rejected
	if errors.As(err, &venueRej) && venueRej.Code == exchange.CodeDuplicateOrderID {
		st, found, lerr := c.LookupOrder(ctx, o.Symbol, o.ClientOrderID)
		switch {
		case lerr != nil:
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: -4116 duplicate id, looking it up: %w: %w", o.ClientOrderID, exchange.ErrUnknownOutcome, lerr)
		case !found:
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: -4116 duplicate id, yet the order is not found under %s: %w", o.ClientOrderID, o.Symbol, exchange.ErrUnknownOutcome)
		}
		c.cfg.Log.Info("binance: client order id already held by the venue: treated as submitted", "client_order_id", o.ClientOrderID, "status", st.Status)
		return st, nil
	}
	if err != nil {
		if venueRej != nil {
			return exchange.OrderState{}, err
		}
		return exchange.OrderState{}, fmt.Errorf("binance: place %s: %w", o.ClientOrderID, err)
	}
	st, err := out.state()
	if err != nil {
		return exchange.OrderState{}, fmt.Errorf("binance: place %s: %w: %w", o.ClientOrderID, exchange.ErrUnknownOutcome, err)
	}
	return st, nil
}

// LookupOrder queries the order by client order id (GET /fapi/v1/order
// with origClientOrderId); -2013 (no such order) is not found.
func (c *Client) LookupOrder(ctx context.Context, symbol, clientOrderID string) (exchange.OrderState, bool, error) {
	if !market.ValidClientOrderID(clientOrderID) {
		return exchange.OrderState{}, false, nil
	}
	var out order
	err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/order", signed: true,
		params: url.Values{"symbol": {symbol}, "origClientOrderId": {clientOrderID}}}, &out)
	var rej *exchange.Rejected
	if errors.As(err, &rej) && rej.Code == CodeNoSuchOrder {
		return exchange.OrderState{}, false, nil
	}
	if err != nil {
		return exchange.OrderState{}, false, fmt.Errorf("binance: lookup %s: %w", clientOrderID, err)
	}
	st, err := out.state()
	if err != nil {
		return exchange.OrderState{}, false, fmt.Errorf("binance: lookup %s: %w", clientOrderID, err)
	}
	return st, true, nil
}

// Position returns the signed position amount of symbol (GET
// /fapi/v3/positionRisk, which lists only symbols with a position or open
// orders: no entry is flat). An entry with a positionSide other than BOTH
// means hedge mode and is an error.
func (c *Client) Position(ctx context.Context, symbol string) (float64, error) {
	var out []struct {
		Symbol       string `json:"symbol"`
		PositionSide string `json:"positionSide"`
		PositionAmt  string `json:"positionAmt"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v3/positionRisk", signed: true,
		params: url.Values{"symbol": {symbol}}}, &out); err != nil {
		return 0, fmt.Errorf("binance: position %s: %w", symbol, err)
	}
	amt := 0.0
	for _, p := range out {
		if p.Symbol != symbol {
			continue
		}
		if p.PositionSide != "BOTH" {
			return 0, fmt.Errorf("binance: position %s: positionSide %s: %w", symbol, p.PositionSide, ErrHedgeMode)
		}
		f, err := strconv.ParseFloat(p.PositionAmt, 64)
		if err != nil {
			return 0, fmt.Errorf("binance: position %s: positionAmt %q: %w", symbol, p.PositionAmt, err)
		}
		amt += f
	}
	return amt, nil
}

// MarkPrice returns the symbol's mark price (GET /fapi/v1/premiumIndex).
func (c *Client) MarkPrice(ctx context.Context, symbol string) (float64, error) {
	text, err := c.markText(ctx, symbol)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("binance: mark price of %s: %q is not a price", symbol, text)
	}
	return f, nil
}

// markText returns the mark price as the venue wrote it, reusing one read
// within MarkTTL (the apply layer reads it just before placing).
func (c *Client) markText(ctx context.Context, symbol string) (string, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	m, ok := c.marks[symbol]
	c.mu.Unlock()
	if ok && now.Sub(m.at) < c.cfg.MarkTTL {
		return m.text, nil
	}
	var out struct {
		Symbol    string `json:"symbol"`
		MarkPrice string `json:"markPrice"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/premiumIndex",
		params: url.Values{"symbol": {symbol}}}, &out); err != nil {
		return "", fmt.Errorf("binance: mark price of %s: %w", symbol, err)
	}
	if r, err := parseDecimal(out.MarkPrice); err != nil || r.Sign() <= 0 || out.Symbol != symbol {
		return "", fmt.Errorf("binance: mark price of %s: answer %q for %q is not a price", symbol, out.MarkPrice, out.Symbol)
	}
	c.mu.Lock()
	c.marks[symbol] = markEntry{text: out.MarkPrice, at: now}
	c.mu.Unlock()
	return out.MarkPrice, nil
}

// SetLeverage sets the symbol's initial leverage (POST /fapi/v1/leverage)
// and checks the answer says so.
func (c *Client) SetLeverage(ctx context.Context, symbol string, leverage int) error {
	if leverage < 1 || leverage > 125 {
		return notSent(-4028, "leverage %d is not 1 to 125", leverage)
	}
	var out struct {
		Leverage int    `json:"leverage"`
		Symbol   string `json:"symbol"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/leverage", signed: true, mutates: true,
		params: url.Values{"symbol": {symbol}, "leverage": {strconv.Itoa(leverage)}}}, &out); err != nil {
		var rej *exchange.Rejected
		if errors.As(err, &rej) {
			return err
		}
		return fmt.Errorf("binance: set leverage %s %dx: %w", symbol, leverage, err)
	}
	if out.Leverage != leverage || out.Symbol != symbol {
		return fmt.Errorf("binance: set leverage %s %dx: the venue answered %s %dx: %w", symbol, leverage, out.Symbol, out.Leverage, exchange.ErrUnknownOutcome)
	}
	return nil
}

// decodeEither decodes a JSON array of T, or a single T.
func decodeEither[T any](raw json.RawMessage) ([]T, error) {
	var many []T
	if err := json.Unmarshal(raw, &many); err == nil {
		return many, nil
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, err
	}
	return []T{one}, nil
}
