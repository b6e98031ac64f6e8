// Package binancefake is a local Binance USD-M futures venue for tests
// (an httptest server): the adapter in package binance is contract-tested
// against it, and so are the apply layer end to end and `quantum exchange
// check`. No test of this project reaches Binance.
//
// It is as strict as the documented venue where the adapter could go wrong:
// it verifies the HMAC-SHA256 signature over the exact parameter text, the
// X-MBX-APIKEY header, timestamp against recvWindow (-1021), required and
// unknown parameters (-1102, -1104), forbidden combinations (reduceOnly
// with closePosition, reduceOnly in hedge mode, positionSide other than
// BOTH in one-way mode), conditional types that moved to the algo order API
// (-4120), the symbol's filters as the docs define them (more decimals than
// the step -1111, a quantity off the step counted from minQty -4023, below
// minQty -4004, above maxQty -4005, MIN_NOTIONAL -4164 except reduce-only,
// a price off the tick counted from minPrice -4014, below minPrice -4013,
// above maxPrice -4002, PERCENT_PRICE -4016/-4024; MARKET_LOT_SIZE is always
// listed, and a stepSize of 0 there means LOT_SIZE's applies),
// newClientOrderId unique among OPEN orders only (-4116: a filled order's
// id may be used again, as at Binance), and reduce-only rules (-2022).
//
// It keeps orders and one-way positions. A MARKET order fills at the mark
// up to the symbol's liquidity (SetLiquidity; unlimited by default) and
// the rest expires: nothing filled is EXPIRED with executedQty 0, a part
// filled is EXPIRED with that part (Binance's answer to a MARKET order the
// book could not fill). A marketable LIMIT fills the same way and the rest
// rests (PARTIALLY_FILLED or NEW); a resting LIMIT fills when SetMark
// crosses it, and Cancel and Expire end it. Like Binance it forgets an
// order that ended CANCELED or EXPIRED without a fill once it is 3 days
// old (GET /fapi/v1/order answers -2013, allOrders leaves it out).
//
// It tracks each position's entry price and realizes PnL per fill as
// Binance's one-way mode does, with an optional commission (SetCommission),
// into an income history served by GET /fapi/v1/income; positionRisk and
// account report the unrealized PnL at the mark (pnl.go).
//
// It meters requests as the docs do (ratelimit.go): every endpoint has its
// weight, orders count in the ORDERS windows, the windows and limits are
// the rateLimits exchangeInfo lists (SetRateLimits), and every answer
// carries X-MBX-USED-WEIGHT-<n><unit> and, for orders,
// X-MBX-ORDER-COUNT-<n><unit>. A request beyond a limit is answered 429
// -1003 with Retry-After; one sent while a 429's Retry-After runs is
// answered 418 (an IP ban).
//
// Faults are injected per path (Inject): an HTTP status and venue code
// (-1007, 5xx, 408 without a body, 429 with Retry-After, 418, -2022 ...),
// answered either instead of executing or after executing (the order is
// placed and the client is told -1007, or nothing at all), and slow
// answers.
package binancefake

import (
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// Symbol is one listed symbol and its filters, all decimal text.
type Symbol struct {
	Name        string
	Status      string // default TRADING
	Mark        string // mark price; "" means none (premiumIndex -1121)
	Step        string // LOT_SIZE stepSize
	MinQty      string
	MaxQty      string
	MarketStep  string // MARKET_LOT_SIZE stepSize; "" means LOT_SIZE's; "0" is listed as 0 (LOT_SIZE's applies)
	Tick        string // PRICE_FILTER tickSize
	MinPrice    string // PRICE_FILTER minPrice; default the tick
	MaxPrice    string // PRICE_FILTER maxPrice; default "10000000"
	Liquidity   string // quantity a taker order can fill; "" means unlimited
	MinNotional string // MIN_NOTIONAL notional
	Up, Down    string // PERCENT_PRICE multipliers
	MaxLeverage int    // bracket 1's initialLeverage; default 125
}

// BTC, ETH and DOGE are typical listings.
var (
	BTC  = Symbol{Name: "BTCUSDT", Mark: "65000", Step: "0.001", MinQty: "0.001", MaxQty: "1000", Tick: "0.10", MinNotional: "100", Up: "1.0500", Down: "0.9500", MaxLeverage: 125}
	ETH  = Symbol{Name: "ETHUSDT", Mark: "3000", Step: "0.001", MinQty: "0.001", MaxQty: "10000", Tick: "0.01", MinNotional: "20", Up: "1.0500", Down: "0.9500", MaxLeverage: 100}
	DOGE = Symbol{Name: "DOGEUSDT", Mark: "0.1", Step: "1", MinQty: "1", MaxQty: "50000000", Tick: "0.00001", MinNotional: "5", Up: "1.1500", Down: "0.8500", MaxLeverage: 75}
)

// Fault is an injected answer for one request on a path.
type Fault struct {
	Status     int           // HTTP status; default 400 with a Code, else 200
	Code       int           // venue code of the error body (0: none)
	Msg        string        // venue message
	RetryAfter string        // Retry-After header
	Delay      time.Duration // wait this long (or until the client hangs up) before answering
	Execute    bool          // execute the request first, then answer with the fault
	// ExecuteAfter executes the request this long after it arrived, while
	// the client is answered the fault: a backend that processes a request
	// late. As at Binance's matching engine, a request whose timestamp is
	// older than its recvWindow by then is dropped (-5028), never executed.
	ExecuteAfter time.Duration
	Body         string // raw body instead of the error JSON; a status without Code and Body has an empty body
}

// Order is an order the fake holds.
type Order struct {
	OrderID       int64
	ClientOrderID string
	Symbol        string
	Side          string
	Type          string
	Status        string
	OrigQty       string
	ExecutedQty   string
	Price         string
	AvgPrice      string
	ReduceOnly    bool
	Time          int64 // creation, unix ms of the fake's clock
	UpdateTime    int64
}

// Fake is the venue. Its methods are safe for concurrent use.
type Fake struct {
	Server *httptest.Server
	apiKey string
	secret []byte

	mu        sync.Mutex
	now       func() time.Time
	skew      time.Duration
	dual      bool
	canTrade  bool
	acctLock  bool
	locked    map[string]bool
	symbols   map[string]Symbol
	orders    []*Order
	positions map[string]*big.Rat
	entries   map[string]*big.Rat // entry price of each open position (pnl.go)
	income    []incomeRow         // GET /fapi/v1/income, oldest first (pnl.go)
	feeRate   *big.Rat            // taker commission rate; nil charges none (pnl.go)
	tranSeq   int64
	leverage  map[string]int
	faults    map[string][]Fault
	requests  map[string]int
	seq       int64
	seen      []string // every request's raw parameters, for secret-leak checks
	meter     meter
	dropped   int
}

// New starts a fake with the credentials it accepts and the symbols it
// lists. Close it when done.
func New(apiKey, secret string, symbols ...Symbol) *Fake {
	f := &Fake{apiKey: apiKey, secret: []byte(secret), now: time.Now, canTrade: true,
		locked: map[string]bool{}, symbols: map[string]Symbol{}, positions: map[string]*big.Rat{}, entries: map[string]*big.Rat{},
		leverage: map[string]int{}, faults: map[string][]Fault{}, requests: map[string]int{},
		meter: newMeter(DefaultRateLimits)}
	for _, s := range symbols {
		f.SetSymbol(s)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the base URL to give the adapter.
func (f *Fake) URL() string { return f.Server.URL }

// Close stops the server.
func (f *Fake) Close() { f.Server.Close() }

// SetSymbol lists or replaces a symbol.
func (f *Fake) SetSymbol(s Symbol) {
	if s.Status == "" {
		s.Status = "TRADING"
	}
	if s.MaxLeverage == 0 {
		s.MaxLeverage = 125
	}
	if s.MinPrice == "" {
		s.MinPrice = s.Tick // Binance's minPrice is a multiple of the tick
	}
	if s.MaxPrice == "" {
		s.MaxPrice = "10000000"
	}
	f.mu.Lock()
	f.symbols[s.Name] = s
	f.mu.Unlock()
}

// SetMark sets a symbol's mark price.
func (f *Fake) SetMark(symbol, price string) {
	f.mu.Lock()
	s := f.symbols[symbol]
	s.Mark = price
	f.symbols[symbol] = s
	f.matchResting(s)
	f.mu.Unlock()
}

// SetLiquidity sets how much a taker order of the symbol can fill ("" is
// unlimited, "0" fills nothing: a MARKET order then ends EXPIRED).
func (f *Fake) SetLiquidity(symbol, qty string) {
	f.mu.Lock()
	s := f.symbols[symbol]
	s.Liquidity = qty
	f.symbols[symbol] = s
	f.mu.Unlock()
}

// Cancel cancels a resting order (as a user would in the web UI); false
// when no open order has the id.
func (f *Fake) Cancel(clientOrderID string) bool { return f.end(clientOrderID, "CANCELED") }

// Expire expires a resting order (as Binance does, e.g. a GTD or a
// self-trade prevention); false when no open order has the id.
func (f *Fake) Expire(clientOrderID string) bool { return f.end(clientOrderID, "EXPIRED") }

func (f *Fake) end(coid, status string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orders {
		if o.ClientOrderID == coid && open(o) {
			o.Status, o.UpdateTime = status, f.now().UnixMilli()
			return true
		}
	}
	return false
}

func open(o *Order) bool { return o.Status == "NEW" || o.Status == "PARTIALLY_FILLED" }

// SetClock sets the venue's clock and its skew to it.
func (f *Fake) SetClock(now func() time.Time, skew time.Duration) {
	f.mu.Lock()
	f.now, f.skew = now, skew
	f.mu.Unlock()
}

// SetHedgeMode switches the account's position mode.
func (f *Fake) SetHedgeMode(dual bool) { f.mu.Lock(); f.dual = dual; f.mu.Unlock() }

// SetCanTrade sets the account's canTrade.
func (f *Fake) SetCanTrade(ok bool) { f.mu.Lock(); f.canTrade = ok; f.mu.Unlock() }

// Lock marks a symbol locked by the quantitative trading rules.
func (f *Fake) Lock(symbol string) { f.mu.Lock(); f.locked[symbol] = true; f.mu.Unlock() }

// LockAccount locks the whole account by the quantitative trading rules
// (apiTradingStatus lists it under the key "ACCOUNT").
func (f *Fake) LockAccount() { f.mu.Lock(); f.acctLock = true; f.mu.Unlock() }

// SetPosition sets a one-way position amount, entered at the symbol's
// mark (so its unrealized PnL starts at 0); nothing is realized.
func (f *Fake) SetPosition(symbol, amount string) {
	r, _ := new(big.Rat).SetString(amount)
	f.mu.Lock()
	f.positions[symbol] = r
	f.entries[symbol], _ = rat(f.symbols[symbol].Mark)
	if f.entries[symbol] == nil {
		f.entries[symbol] = new(big.Rat)
	}
	f.mu.Unlock()
}

// Inject queues faults for the next requests on path (such as
// "/fapi/v1/order", any method) or on one method and path ("GET
// /fapi/v1/order"), one per request, in order; a request takes a fault of
// its method and path first.
func (f *Fake) Inject(path string, faults ...Fault) {
	f.mu.Lock()
	f.faults[path] = append(f.faults[path], faults...)
	f.mu.Unlock()
}

// Orders returns a copy of the orders held, oldest first.
func (f *Fake) Orders() []Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Order, len(f.orders))
	for i, o := range f.orders {
		out[i] = *o
	}
	return out
}

// Position returns a symbol's position amount as decimal text.
func (f *Fake) Position(symbol string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return dec(f.pos(symbol))
}

// Leverage returns the leverage set for symbol (0 when never set).
func (f *Fake) Leverage(symbol string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leverage[symbol]
}

// Requests returns how many requests reached path (any method).
func (f *Fake) Requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

// Seen returns the raw parameter text of every request received.
func (f *Fake) Seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

func (f *Fake) pos(symbol string) *big.Rat {
	if p := f.positions[symbol]; p != nil {
		return p
	}
	return new(big.Rat)
}
