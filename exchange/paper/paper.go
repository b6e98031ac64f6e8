// Package paper is a simulated Binance USD-M futures venue kept in Redis:
// the exchange.Venue that `quantum dev`, the proofs and `quantum bench apply`
// trade against.
//
// # What it simulates
//
// One-way mode: one signed position amount per symbol (> 0 long, < 0 short)
// with an entry price that is the weighted average on an increase, kept on a
// reduce, the fill price after a flip, and 0 when flat. Mark prices are
// configuration (the apply layer's --paper-price SYMBOL=PRICE, see
// ParsePrice); a symbol without one is rejected (-1121), never given an
// invented price. Marks can be moved at run time for every venue sharing
// the Redis (SetPrices, `quantum paper set-price`), and fills realize PnL
// (DayPnL): see marks.go. Every fill is complete and at the mark:
//
//   - MARKET fills at once (a price sent with it is ignored).
//   - LIMIT fills at once, at the mark, when marketable (BUY at a price >=
//     the mark, SELL at <= the mark). Otherwise it rests with status NEW and
//     no position change, and it never fills later: there is no order book,
//     no matching, no cancel. An IOC LIMIT that is not marketable is
//     EXPIRED at once, nothing filled (as Binance answers it).
//   - reduceOnly follows Binance: with no position, or on the same side as
//     the position, the order is rejected with -2022 and nothing is stored;
//     a quantity above the position is cut to the position, so the order
//     closes to flat and never flips (orig_qty keeps what was asked,
//     executed_qty what filled, and the status is FILLED). The check applies
//     to a resting reduce-only LIMIT too, at placement.
//
// A client order id the venue already holds returns the stored order
// unchanged, whatever the new request says (even an invalid one): no second
// order, no second fill, so a caller may retry an unknown outcome with the
// same id. The venue holds an order for its retention (DefaultOrderRetention,
// WithRetention) after it was placed, then forgets it: the order hash
// expires and the index drops it, so memory is bounded by the orders of one
// window; after that a reused id is placed as a new order (Binance keeps ids
// unique among open orders only). The apply layer's exactly-once rests on
// its execution records, which live for the record TTL, and the retention
// is at least that long (the apply layer refuses a shorter one). Exchange order ids count up per venue (INCR), as text. Leverage is
// per symbol (SetLeverage, 1 to 125; DefaultLeverage until set) and is only
// recorded in each order, for information.
//
// It does not simulate fees, funding, margin, liquidation, partial fills,
// slippage, price moves of its own, hedge mode, order cancel or expiry in
// Binance's sense (an IOC LIMIT that is not marketable is EXPIRED; a resting
// order is only forgotten after the retention), minimum notional, nor rate
// limits. Quantity steps only with WithSteps (steps.go): the apply layer's
// paper venue rounds down to Binance-like steps; New's venue takes any
// quantity of up to 8 decimal places.
//
// # Numbers
//
// Quantities are exact: Go parses each decimal into an integer of 1e-8 units
// (parseE8; up to 8 decimal places, at most MaxUnits) before calling the
// script, and the script adds and compares those integers, which Lua's
// doubles hold exactly up to 2^53-1; so 0.1 + 0.2 - 0.3 leaves exactly 0.
// Redis stores canonical decimal text ("-0.3"), so operators read positions
// in redis-cli as they are. The entry price is the one number computed in
// floating point (a weighted average, rounded to 8 places, as Binance shows a
// rounded entryPrice); it is information and never feeds a quantity.
//
// # Atomicity
//
// Several apply-layer replicas may share a venue, so every PlaceOrder is one
// Lua script (place.lua, one EVALSHA round trip): the idempotency check by
// client order id, the reduce-only rules, the position update and the order
// record happen in one atomic step. The arithmetic is in the script rather
// than in Go under WATCH/MULTI because that would take three or more round
// trips per order and retries under contention, where the script takes one
// and never retries. Go does everything that needs no state first
// (validation, marketability against the mark), so the script stays short.
//
// # Redis keys
//
// All under the key space's prefix P:
//
//	P:paper:order:<client order id>  hash   one order (fields in OrderRecord); expires after the retention
//	P:paper:orders                   zset   client order ids scored by placement time (unix ms), the retention's window
//	P:paper:position:<SYMBOL>        hash   amount, entry_price, leverage
//	P:paper:symbols                  set    symbols with a position hash
//	P:paper:seq                      string the last exchange order id
//	P:paper:marks                    hash   marks moved at run time, SYMBOL -> price
//	P:paper:pnl:<YYYY-MM-DD>         hash   realized PnL of the UTC day (realized, realized:<SYMBOL>)
//
// With a prefix that is a Redis Cluster hash tag ("{q}") every key of a
// venue lands in one slot, as the script needs.
//
// # Errors
//
// Refusals are *exchange.Rejected with Binance's codes. A Redis error in
// PlaceOrder wraps exchange.ErrUnknownOutcome: go-redis retries a command
// after errors that happen once the script was sent (EOF) and reports only
// the last attempt's error, so even a "connection refused" cannot prove that
// no earlier attempt ran; only a context already done before the call gives
// exchange.ErrUnavailable. Retrying the script is always safe, since it is
// idempotent by client order id. Redis errors of the read methods and
// SetLeverage wrap exchange.ErrUnavailable.
package paper

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
)

// DefaultLeverage is a symbol's leverage until SetLeverage (Binance's
// initial leverage).
const DefaultLeverage = 20

// DefaultOrderRetention is how long the venue holds an order (and dedupes
// its client order id) after placing it: twice the apply layer's default
// execution-record TTL (24h), so that the venue's dedupe outlives every
// record that could replay an order. WithRetention changes it.
const DefaultOrderRetention = 48 * time.Hour

// Binance USD-M codes the paper venue uses beside those of package exchange.
const (
	CodeInvalidClientOrderID = -4015 // Client order id is not valid.
	CodeInvalidLeverage      = -4028 // Leverage is not valid.
	CodeMaxPosition          = -2027 // Exceeded the maximum allowable position.
)

//go:embed place.lua
var placeSrc string

var placeScript = redis.NewScript(placeSrc)

// Venue is the paper venue. It is safe for concurrent use, and any number
// of Venues (in any number of processes) may share one Redis and prefix.
type Venue struct {
	rdb   redis.Cmdable
	ks    keys.Space
	marks map[string]mark
	// steps and fallbackStep round quantities down (steps.go); none in New.
	steps        map[string]int64
	fallbackStep int64
	retention    time.Duration // how long an order is held (DefaultOrderRetention)
}

type mark struct {
	text string // canonical decimal
	e8   int64
}

var _ exchange.Venue = (*Venue)(nil)

// New returns a venue keeping its state in rdb under ks. prices maps each
// tradable symbol to its mark price as decimal text (what ParsePrice
// returns), so that fill prices are recorded exactly as configured, with no
// float rounding. A symbol absent from prices is rejected by every method
// but Position and LookupOrder.
func New(rdb redis.Cmdable, ks keys.Space, prices map[string]string) (*Venue, error) {
	if rdb == nil {
		return nil, errors.New("paper: nil Redis client")
	}
	if ks.Prefix() == "" {
		return nil, errors.New("paper: zero key space (build one with keys.New)")
	}
	marks := make(map[string]mark, len(prices))
	for _, sym := range slices.Sorted(maps.Keys(prices)) {
		p, err := canonicalPrice(sym, prices[sym])
		if err != nil {
			return nil, err
		}
		n, _ := parseE8(p)
		marks[sym] = mark{text: p, e8: n}
	}
	return &Venue{rdb: rdb, ks: ks, marks: marks, retention: DefaultOrderRetention}, nil
}

// WithRetention returns a venue over the same state that holds each order
// it places for d (at least a millisecond) instead of
// DefaultOrderRetention. Orders keep the retention they were placed with.
func (v *Venue) WithRetention(d time.Duration) (*Venue, error) {
	if d < time.Millisecond {
		return nil, fmt.Errorf("paper: order retention %s: want at least 1ms", d)
	}
	out := *v
	out.retention = d
	return &out, nil
}

// Retention returns how long the venue holds the orders it places.
func (v *Venue) Retention() time.Duration { return v.retention }

func (v *Venue) orderKey(clientOrderID string) string {
	return v.ks.Key("paper:order:" + clientOrderID)
}
func (v *Venue) ordersKey() string                { return v.ks.Key("paper:orders") }
func (v *Venue) positionKey(symbol string) string { return v.ks.Key("paper:position:" + symbol) }
func (v *Venue) symbolsKey() string               { return v.ks.Key("paper:symbols") }
func (v *Venue) seqKey() string                   { return v.ks.Key("paper:seq") }

func rejected(code int, format string, a ...any) *exchange.Rejected {
	return &exchange.Rejected{Code: code, Msg: fmt.Sprintf(format, a...)}
}

func noMark(symbol string) *exchange.Rejected {
	return rejected(exchange.CodeInvalidSymbol, "Invalid symbol %q: the paper venue has no mark price for it.", symbol)
}

// check validates o against the configuration. It returns whether the order
// fills now, its quantity in 1e-8 units and its canonical quantity and
// price texts, or the rejection.
func (v *Venue) check(o exchange.Order, m mark, ok bool) (fills bool, qty int64, qtyText, priceText string, rej *exchange.Rejected) {
	if !ok {
		return false, 0, "", "", noMark(o.Symbol)
	}
	if o.Side != market.Buy && o.Side != market.Sell {
		return false, 0, "", "", rejected(exchange.CodeBadParameter, "Parameter 'side' %q is not BUY or SELL.", o.Side)
	}
	qty, qrej := v.quantity(o)
	if qrej != nil {
		return false, 0, "", "", qrej
	}
	switch o.Type {
	case market.Market:
		return true, qty, formatE8(qty), "0", nil
	case market.Limit:
		price, err := parseE8(o.Price)
		if err == nil && price <= 0 {
			err = errors.New("not > 0")
		}
		if err != nil {
			return false, 0, "", "", rejected(exchange.CodeBadParameter, "Parameter 'price' %q was not sent or is malformed: %v.", o.Price, err)
		}
		fills = o.Side == market.Buy && price >= m.e8 || o.Side == market.Sell && price <= m.e8
		return fills, qty, formatE8(qty), formatE8(price), nil
	default:
		return false, 0, "", "", rejected(exchange.CodeBadParameter, "Parameter 'type' %q is not MARKET or LIMIT.", o.Type)
	}
}

// PlaceOrder places o in one atomic script (see the package comment). An
// order whose client order id the venue holds is returned as stored.
func (v *Venue) PlaceOrder(ctx context.Context, o exchange.Order) (exchange.OrderState, error) {
	if !market.ValidClientOrderID(o.ClientOrderID) {
		// The venue can never hold such an id, so no stored order is lost.
		return exchange.OrderState{}, rejected(CodeInvalidClientOrderID, "Client order id %q is not valid.", o.ClientOrderID)
	}
	if err := ctx.Err(); err != nil {
		return exchange.OrderState{}, fmt.Errorf("paper: place %s: %w: %w", o.ClientOrderID, exchange.ErrUnavailable, err)
	}
	m, known, err := v.markOf(ctx, o.Symbol)
	if err != nil { // as for the script below: a Redis error in PlaceOrder is an unknown outcome
		return exchange.OrderState{}, fmt.Errorf("paper: place %s: %w: %v", o.ClientOrderID, exchange.ErrUnknownOutcome, err)
	}
	fills, qty, qtyText, priceText, rej := v.check(o, m, known)
	// A rejection found here still goes to the script, which answers with
	// the held order if there is one: a Rejected must mean "nothing placed".
	rejCode, rejMsg, markText, fill := "", "", "", "0"
	if rej != nil {
		rejCode, rejMsg = strconv.Itoa(rej.Code), rej.Msg
	} else {
		markText = m.text
	}
	if fills {
		fill = "1"
	} else if o.Type == market.Limit && o.TimeInForce == exchange.IOC {
		fill = "x" // immediate or cancel, not marketable: expires, nothing rests
	}
	now := time.Now()
	reply, err := placeScript.Run(ctx, v.rdb,
		[]string{v.orderKey(o.ClientOrderID), v.positionKey(o.Symbol), v.seqKey(), v.ordersKey(), v.symbolsKey(), pnlKey(v.ks, now)},
		o.ClientOrderID, o.Symbol, string(o.Side), string(o.Type),
		qty, qtyText, priceText, markText, fill, strconv.FormatBool(o.ReduceOnly),
		rejCode, rejMsg, now.UnixMilli(), DefaultLeverage, pnlDays*86400, v.retention.Milliseconds(),
	).StringSlice()
	if err != nil {
		return exchange.OrderState{}, fmt.Errorf("paper: place %s: %w: %w", o.ClientOrderID, exchange.ErrUnknownOutcome, err)
	}
	if len(reply) == 3 && reply[0] == "rej" {
		code, err := strconv.Atoi(reply[1])
		if err != nil {
			return exchange.OrderState{}, fmt.Errorf("paper: place %s: bad rejection code %q from the script", o.ClientOrderID, reply[1])
		}
		return exchange.OrderState{}, &exchange.Rejected{Code: code, Msg: reply[2]}
	}
	if len(reply) == 0 || (reply[0] != "new" && reply[0] != "dup") {
		return exchange.OrderState{}, fmt.Errorf("paper: place %s: unexpected script reply %q", o.ClientOrderID, reply)
	}
	rec, err := parseRecord(pairs(reply[1:]))
	if err != nil {
		return exchange.OrderState{}, fmt.Errorf("paper: place %s: %w", o.ClientOrderID, err)
	}
	return rec.OrderState, nil
}

// LookupOrder returns the order with the client order id. Like Binance's
// query by symbol and origClientOrderId, an order held under another symbol
// is not found (PlaceOrder with that id would still return it).
func (v *Venue) LookupOrder(ctx context.Context, symbol, clientOrderID string) (exchange.OrderState, bool, error) {
	if !market.ValidClientOrderID(clientOrderID) {
		return exchange.OrderState{}, false, nil
	}
	h, err := v.rdb.HGetAll(ctx, v.orderKey(clientOrderID)).Result()
	if err != nil {
		return exchange.OrderState{}, false, fmt.Errorf("paper: lookup %s: %w: %w", clientOrderID, exchange.ErrUnavailable, err)
	}
	if len(h) == 0 {
		return exchange.OrderState{}, false, nil
	}
	rec, err := parseRecord(h)
	if err != nil {
		return exchange.OrderState{}, false, fmt.Errorf("paper: lookup %s: %w", clientOrderID, err)
	}
	if rec.Symbol != symbol {
		return exchange.OrderState{}, false, nil
	}
	return rec.OrderState, true, nil
}

// Position returns the signed position amount of symbol (0 when flat or
// never traded). It reads what Redis holds even for a symbol that has no
// mark price (any more); a symbol that is not ^[A-Z0-9]{2,20}$ is rejected
// (-1121).
// PositionsOf returns the signed positions of symbols in one pipelined
// round trip (flat symbols are 0): the apply layer reads a whole batch's
// positions with it.
func (v *Venue) PositionsOf(ctx context.Context, symbols []string) (map[string]float64, error) {
	pipe := v.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(symbols))
	for i, sym := range symbols {
		if !market.ValidSymbol(sym) {
			return nil, rejected(exchange.CodeInvalidSymbol, "Invalid symbol %q.", sym)
		}
		cmds[i] = pipe.HGet(ctx, v.positionKey(sym), "amount")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("paper: positions: %w: %w", exchange.ErrUnavailable, err)
	}
	out := make(map[string]float64, len(symbols))
	for i, sym := range symbols {
		s, err := cmds[i].Result()
		if errors.Is(err, redis.Nil) {
			out[sym] = 0
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("paper: position %s: %w: %w", sym, exchange.ErrUnavailable, err)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("paper: position %s: corrupt amount %q: %w", sym, s, err)
		}
		out[sym] = f
	}
	return out, nil
}

func (v *Venue) Position(ctx context.Context, symbol string) (float64, error) {
	if !market.ValidSymbol(symbol) {
		return 0, rejected(exchange.CodeInvalidSymbol, "Invalid symbol %q.", symbol)
	}
	s, err := v.rdb.HGet(ctx, v.positionKey(symbol), "amount").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("paper: position %s: %w: %w", symbol, exchange.ErrUnavailable, err)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("paper: position %s: corrupt amount %q: %w", symbol, s, err)
	}
	return f, nil
}

// MarkPrice returns the mark price of symbol (as set by SetPrices, else as
// configured), or a
// *exchange.Rejected with -1121 when there is none.
func (v *Venue) MarkPrice(ctx context.Context, symbol string) (float64, error) {
	m, ok, err := v.markOf(ctx, symbol)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, noMark(symbol)
	}
	return float64(m.e8) / unit, nil
}

// SetLeverage sets symbol's leverage, 1 to 125 (else -4028); a symbol
// without a mark price is rejected (-1121).
func (v *Venue) SetLeverage(ctx context.Context, symbol string, leverage int) error {
	if _, ok, err := v.markOf(ctx, symbol); err != nil || !ok {
		if err != nil {
			return err
		}
		return noMark(symbol)
	}
	if leverage < 1 || leverage > 125 {
		return rejected(CodeInvalidLeverage, "Leverage %d is not valid (1 to 125).", leverage)
	}
	_, err := v.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, v.positionKey(symbol), "leverage", leverage)
		p.SAdd(ctx, v.symbolsKey(), symbol)
		return nil
	})
	if err != nil {
		return fmt.Errorf("paper: set leverage %s: %w: %w", symbol, exchange.ErrUnavailable, err)
	}
	return nil
}

func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}
