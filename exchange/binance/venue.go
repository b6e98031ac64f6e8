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
	"strings"
	"time"

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
	OrigQty       string `json:"origQty"`
	ExecutedQty   string `json:"executedQty"`
	AvgPrice      string `json:"avgPrice"`
	Time          int64  `json:"time"`
}

func (o order) state() (exchange.OrderState, error) {
	if o.OrderID == 0 || o.ClientOrderID == "" || o.Status == "" {
		return exchange.OrderState{}, fmt.Errorf("binance: order answer without orderId, clientOrderId or status")
	}
	if _, err := parseDecimal(o.ExecutedQty); err != nil {
		// Never read as 0: an order that filled must not look like one that did nothing.
		return exchange.OrderState{}, fmt.Errorf("binance: order answer with executedQty %q", o.ExecutedQty)
	}
	// avgPrice is absent from the current new-order answer (docs, SDK): "0" then.
	filled, avg := canonical(o.ExecutedQty), canonical(o.AvgPrice)
	orig := ""
	if o.OrigQty != "" {
		orig = canonical(o.OrigQty)
	}
	return exchange.OrderState{
		ClientOrderID: o.ClientOrderID, ExchangeOrderID: strconv.FormatInt(o.OrderID, 10),
		Symbol: o.Symbol, Side: market.Side(o.Side), Status: exchange.Status(o.Status),
		FilledQty: filled, AvgPrice: avg, OrigQty: orig,
	}, nil
}

// mismatch says how an answer differs from the order it should be, or "".
func mismatch(st exchange.OrderState, clientOrderID, symbol string, side market.Side) string {
	switch {
	case st.ClientOrderID != clientOrderID:
		return fmt.Sprintf("the answer is for client order id %q", st.ClientOrderID)
	case st.Symbol != symbol:
		return fmt.Sprintf("the answer is for symbol %q", st.Symbol)
	case side != "" && st.Side != side:
		return fmt.Sprintf("the answer is for side %q", st.Side)
	}
	return ""
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
// (see the package comment). A reduce-only order is urgent for the rate
// limiter (exchange.Urgent).
//
// An id this client sent before is reconciled first (LookupOrder: found,
// it is returned as it stands) and never re-sent while an earlier attempt
// may still execute: LookupOrder answers ErrUnknownOutcome until that
// attempt has settled, then searches the account's recent orders; only
// when neither finds it is the order sent again. A look-up that fails is
// ErrUnknownOutcome too, never "unavailable". A -4116 answer is looked up
// the same way.
func (c *Client) PlaceOrder(ctx context.Context, o exchange.Order) (exchange.OrderState, error) {
	if !market.ValidClientOrderID(o.ClientOrderID) {
		return exchange.OrderState{}, notSent(CodeInvalidClientOrder, "client order id %q is not ^[.A-Z:/a-z0-9_-]{1,36}$", o.ClientOrderID)
	}
	if o.ReduceOnly {
		ctx = exchange.Urgent(ctx)
	}
	c.mu.Lock()
	sentBefore := c.sent.set[o.ClientOrderID] != nil
	c.mu.Unlock()
	if sentBefore {
		st, found, err := c.LookupOrder(ctx, o.Symbol, o.ClientOrderID)
		if err != nil {
			// The cause is %v: the outcome is unknown, not "unavailable".
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: sent before, reconciling: %w: %v", o.ClientOrderID, exchange.ErrUnknownOutcome, err)
		}
		if found {
			return st, nil
		}
		c.cfg.Log.Info("binance: an order sent before is not at the venue: sending it again", "client_order_id", o.ClientOrderID,
			"symbol", o.Symbol)
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
		tif := "GTC"
		if o.TimeInForce == exchange.IOC {
			tif = exchange.IOC
		}
		p.Set("timeInForce", tif)
	}
	// From here the venue may hold the order: a later PlaceOrder with this
	// id reconciles first.
	c.mu.Lock()
	a := c.sent.add(o.ClientOrderID)
	c.mu.Unlock()
	var ts int64
	var out order
	err = c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/order", params: p, signed: true, mutates: true, sentTS: &ts}, &out)
	st, err := c.placed(ctx, o, out, err)
	c.mu.Lock()
	a.ts, a.unknown = ts, errors.Is(err, exchange.ErrUnknownOutcome)
	c.mu.Unlock()
	return st, err
}

// placed reads the answer to an order.
func (c *Client) placed(ctx context.Context, o exchange.Order, out order, err error) (exchange.OrderState, error) {
	var venueRej *exchange.Rejected
	if errors.As(err, &venueRej) && venueRej.Code == exchange.CodeDuplicateOrderID {
		st, found, lerr := c.LookupOrder(ctx, o.Symbol, o.ClientOrderID)
		switch {
		case lerr != nil:
			return exchange.OrderState{}, fmt.Errorf("binance: place %s: -4116 duplicate id, looking it up: %w: %v", o.ClientOrderID, exchange.ErrUnknownOutcome, lerr)
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
	if m := mismatch(st, o.ClientOrderID, o.Symbol, o.Side); m != "" {
		// Not our order's answer: ours may or may not exist.
		return exchange.OrderState{}, fmt.Errorf("binance: place %s: %s: %w", o.ClientOrderID, m, exchange.ErrUnknownOutcome)
	}
	return st, nil
}

// RecentOrders returns the account's orders in symbol created at or after
// since (at most 7 days back, Binance's bound) whose client order id starts
// with prefix, oldest first (GET /fapi/v1/allOrders, 1,000 a page, up to
// 10 pages). Binance leaves out CANCELED and EXPIRED orders without a fill
// older than 3 days, as it does for a look-up.
func (c *Client) RecentOrders(ctx context.Context, symbol, prefix string, since time.Time) ([]exchange.OrderState, error) {
	now := c.venueNow()
	if oldest := now.Add(-7*24*time.Hour + time.Minute); since.Before(oldest) {
		since = oldest
	}
	p := url.Values{"symbol": {symbol}, "startTime": {strconv.FormatInt(since.UnixMilli(), 10)}, "limit": {"1000"}}
	var out []exchange.OrderState
	for range 10 {
		var page []order
		if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/allOrders", signed: true, params: p}, &page); err != nil {
			return nil, fmt.Errorf("binance: recent orders of %s: %w", symbol, err)
		}
		var last int64
		for _, o := range page {
			last = max(last, o.OrderID)
			if !strings.HasPrefix(o.ClientOrderID, prefix) {
				continue
			}
			st, err := o.state()
			if err != nil {
				return nil, fmt.Errorf("binance: recent orders of %s: %w", symbol, err)
			}
			if st.Symbol != symbol {
				return nil, fmt.Errorf("binance: recent orders of %s: an order of %s in the answer", symbol, st.Symbol)
			}
			out = append(out, st)
		}
		if len(page) < 1000 {
			return out, nil
		}
		p = url.Values{"symbol": {symbol}, "orderId": {strconv.FormatInt(last+1, 10)}, "limit": {"1000"}}
	}
	return nil, fmt.Errorf("binance: recent orders of %s: more than 10,000 orders since %s", symbol, since.UTC().Format(time.RFC3339))
}

// LookupOrder queries the order by client order id (GET /fapi/v1/order
// with origClientOrderId); -2013 (no such order) is not found, unless this
// client sent an order under the id whose outcome was unknown: then, while
// that attempt may still execute (its timestamp + recvWindow +
// SettleMargin has not passed), the answer is ErrUnknownOutcome (the
// order may surface late); once settled, the account's recent orders
// (RecentOrders) are searched for the id before "not found" is answered.
func (c *Client) LookupOrder(ctx context.Context, symbol, clientOrderID string) (exchange.OrderState, bool, error) {
	st, found, err := c.lookup(ctx, symbol, clientOrderID)
	if err != nil || found {
		return st, found, err
	}
	c.mu.Lock()
	a := c.sent.set[clientOrderID]
	var prev attempt
	if a != nil {
		prev = *a
	}
	c.mu.Unlock()
	if a == nil || !prev.unknown {
		return st, false, nil
	}
	settles := time.UnixMilli(prev.ts).Add(c.cfg.RecvWindow + c.cfg.SettleMargin)
	if c.venueNow().Before(settles) {
		return exchange.OrderState{}, false, fmt.Errorf("binance: lookup %s: not found yet, and the attempt whose outcome is unknown may still execute until %s (timestamp + recvWindow): %w",
			clientOrderID, settles.UTC().Format(time.RFC3339Nano), exchange.ErrUnknownOutcome)
	}
	recent, err := c.RecentOrders(ctx, symbol, clientOrderID, time.UnixMilli(prev.ts).Add(-time.Minute))
	if err != nil {
		return exchange.OrderState{}, false, fmt.Errorf("binance: lookup %s: searching the recent orders: %w: %v", clientOrderID, exchange.ErrUnknownOutcome, err)
	}
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i].ClientOrderID == clientOrderID {
			return recent[i], true, nil
		}
	}
	// Settled and nowhere: that attempt never executed.
	c.mu.Lock()
	if a.ts == prev.ts {
		a.unknown = false
	}
	c.mu.Unlock()
	c.cfg.Log.Info("binance: an order whose outcome was unknown never reached the venue", "client_order_id", clientOrderID, "symbol", symbol)
	return exchange.OrderState{}, false, nil
}

// lookup is one GET /fapi/v1/order by origClientOrderId.
func (c *Client) lookup(ctx context.Context, symbol, clientOrderID string) (exchange.OrderState, bool, error) {
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
	if m := mismatch(st, clientOrderID, symbol, ""); m != "" {
		return exchange.OrderState{}, false, fmt.Errorf("binance: lookup %s in %s: %s", clientOrderID, symbol, m)
	}
	return st, true, nil
}

// Position returns the signed position amount of symbol (GET
// /fapi/v3/positionRisk, which lists only symbols with a position or open
// orders: no entry is flat). An entry with a positionSide other than BOTH
// means hedge mode and is an error.
func (c *Client) Position(ctx context.Context, symbol string) (float64, error) {
	m, err := c.positions(ctx, url.Values{"symbol": {symbol}}, []string{symbol})
	if err != nil {
		return 0, fmt.Errorf("binance: position %s: %w", symbol, err)
	}
	return m[symbol], nil
}

// PositionsOf returns the positions of symbols in one request (GET
// /fapi/v3/positionRisk without a symbol, weight 5 for them all): the
// apply layer reads a batch's positions so. It is urgent for the rate
// limiter: one read serves the batch's exits too.
func (c *Client) PositionsOf(ctx context.Context, symbols []string) (map[string]float64, error) {
	m, err := c.positions(exchange.Urgent(ctx), url.Values{}, symbols)
	if err != nil {
		return nil, fmt.Errorf("binance: positions: %w", err)
	}
	return m, nil
}

func (c *Client) positions(ctx context.Context, p url.Values, symbols []string) (map[string]float64, error) {
	var out []struct {
		Symbol       string `json:"symbol"`
		PositionSide string `json:"positionSide"`
		PositionAmt  string `json:"positionAmt"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v3/positionRisk", signed: true, params: p}, &out); err != nil {
		return nil, err
	}
	m := make(map[string]float64, len(symbols))
	for _, s := range symbols {
		m[s] = 0
	}
	for _, e := range out {
		if _, ok := m[e.Symbol]; !ok {
			continue
		}
		if e.PositionSide != "BOTH" {
			return nil, fmt.Errorf("%s positionSide %s: %w", e.Symbol, e.PositionSide, ErrHedgeMode)
		}
		f, err := strconv.ParseFloat(e.PositionAmt, 64)
		if err != nil {
			return nil, fmt.Errorf("%s positionAmt %q: %w", e.Symbol, e.PositionAmt, err)
		}
		m[e.Symbol] += f
	}
	return m, nil
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
