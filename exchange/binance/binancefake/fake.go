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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
		locked: map[string]bool{}, symbols: map[string]Symbol{}, positions: map[string]*big.Rat{},
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

// SetPosition sets a one-way position amount.
func (f *Fake) SetPosition(symbol, amount string) {
	r, _ := new(big.Rat).SetString(amount)
	f.mu.Lock()
	f.positions[symbol] = r
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

// venueError is an error answer.
type venueError struct {
	status int
	code   int
	msg    string
}

func fail(status, code int, format string, a ...any) *venueError {
	return &venueError{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

func bad(code int, format string, a ...any) *venueError {
	return fail(http.StatusBadRequest, code, format, a...)
}

type endpoint struct {
	method string
	signed bool
	params []string // accepted parameters besides timestamp, recvWindow, signature
	run    func(f *Fake, p url.Values) (any, *venueError)
}

var endpoints = map[string]endpoint{
	"/fapi/v1/time":         {method: "GET", run: (*Fake).serverTime},
	"/fapi/v1/exchangeInfo": {method: "GET", run: (*Fake).exchangeInfo},
	"/fapi/v1/premiumIndex": {method: "GET", params: []string{"symbol"}, run: (*Fake).premiumIndex},
	"/fapi/v1/positionSide/dual": {method: "GET", signed: true, run: func(f *Fake, _ url.Values) (any, *venueError) {
		return map[string]bool{"dualSidePosition": f.dual}, nil
	}},
	"/fapi/v1/order": {method: "POST", signed: true, params: []string{"symbol", "side", "positionSide", "type",
		"timeInForce", "quantity", "reduceOnly", "price", "newClientOrderId", "stopPrice", "closePosition",
		"newOrderRespType"}, run: (*Fake).newOrder},
	"GET /fapi/v1/order":        {method: "GET", signed: true, params: []string{"symbol", "orderId", "origClientOrderId"}, run: (*Fake).queryOrder},
	"/fapi/v1/leverage":         {method: "POST", signed: true, params: []string{"symbol", "leverage"}, run: (*Fake).setLeverage},
	"/fapi/v3/positionRisk":     {method: "GET", signed: true, params: []string{"symbol"}, run: (*Fake).positionRisk},
	"/fapi/v2/account":          {method: "GET", signed: true, run: (*Fake).account},
	"/fapi/v1/apiTradingStatus": {method: "GET", signed: true, params: []string{"symbol"}, run: (*Fake).tradingStatus},
	"/fapi/v1/leverageBracket":  {method: "GET", signed: true, params: []string{"symbol"}, run: (*Fake).leverageBracket},
	"/fapi/v1/allOrders": {method: "GET", signed: true, params: []string{"symbol", "orderId", "startTime", "endTime", "limit"},
		run: (*Fake).allOrders},
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests[r.URL.Path]++
	f.seen = append(f.seen, r.URL.RawQuery+string(body)+" "+r.Header.Get("X-MBX-APIKEY"))
	var fault *Fault
	for _, k := range []string{r.Method + " " + r.URL.Path, r.URL.Path} {
		if q := f.faults[k]; len(q) > 0 {
			fault, f.faults[k] = &q[0], q[1:]
			break
		}
	}
	f.mu.Unlock()

	ep, ok := endpoints[r.Method+" "+r.URL.Path]
	if !ok {
		ep, ok = endpoints[r.URL.Path]
	}
	if ok && r.Method == ep.method {
		if verr, retry := f.charge(w.Header(), r, ep); verr != nil {
			w.Header().Set("Retry-After", retry)
			writeAnswer(w, nil, verr)
			return
		}
	}
	if fault != nil && fault.ExecuteAfter > 0 && ok && r.Method == ep.method {
		go f.executeLate(r, string(body), ep, fault.ExecuteAfter)
	}
	if fault != nil && !fault.Execute {
		f.answerFault(w, r, fault)
		return
	}
	var out any
	verr := (*venueError)(nil)
	switch {
	case !ok:
		verr = fail(http.StatusNotFound, -1000, "no such endpoint %s", r.URL.Path)
	case r.Method != ep.method:
		verr = fail(http.StatusMethodNotAllowed, -1000, "method %s not allowed on %s", r.Method, r.URL.Path)
	default:
		var p url.Values
		p, verr = f.authenticate(r, string(body), ep)
		if verr == nil {
			f.mu.Lock()
			out, verr = ep.run(f, p)
			f.mu.Unlock()
		}
	}
	if fault != nil {
		f.answerFault(w, r, fault)
		return
	}
	writeAnswer(w, out, verr)
}

// executeLate runs a request after d, unless its timestamp is by then
// older than its recvWindow (the matching engine's -5028).
func (f *Fake) executeLate(r *http.Request, body string, ep endpoint, d time.Duration) {
	time.Sleep(d)
	p, verr := f.authenticate(r, body, ep) // -1021 once the timestamp is older than recvWindow
	f.mu.Lock()
	defer f.mu.Unlock()
	if verr != nil {
		if verr.code == -1021 {
			f.dropped++
		}
		return
	}
	ep.run(f, p)
}

// Dropped returns how many late requests the matching engine dropped for
// their recvWindow (Fault.ExecuteAfter).
func (f *Fake) Dropped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

func (f *Fake) answerFault(w http.ResponseWriter, r *http.Request, ft *Fault) {
	if ft.Delay > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(ft.Delay):
		}
	}
	if ft.RetryAfter != "" {
		w.Header().Set("Retry-After", ft.RetryAfter)
	}
	status := ft.Status
	if status == 0 && ft.Code != 0 {
		status = http.StatusBadRequest
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch {
	case ft.Body != "":
		io.WriteString(w, ft.Body)
	case ft.Code != 0:
		json.NewEncoder(w).Encode(map[string]any{"code": ft.Code, "msg": ft.Msg})
	case status == http.StatusOK:
		io.WriteString(w, "{}")
	}
}

func writeAnswer(w http.ResponseWriter, out any, verr *venueError) {
	w.Header().Set("Content-Type", "application/json")
	if verr != nil {
		w.WriteHeader(verr.status)
		json.NewEncoder(w).Encode(map[string]any{"code": verr.code, "msg": verr.msg})
		return
	}
	json.NewEncoder(w).Encode(out)
}

// authenticate checks a request's parameters and, for a signed endpoint,
// its key, signature and timestamp; it returns the parameters.
func (f *Fake) authenticate(r *http.Request, body string, ep endpoint) (url.Values, *venueError) {
	total := r.URL.RawQuery + body
	p, err := url.ParseQuery(total)
	if r.URL.RawQuery != "" && body != "" {
		p, err = url.ParseQuery(r.URL.RawQuery + "&" + body)
	}
	if err != nil {
		return nil, bad(-1100, "Illegal characters found in a parameter.")
	}
	for k, v := range p {
		if len(v) > 1 {
			return nil, bad(-1101, "Duplicate values for parameter '%s'.", k)
		}
		known := slices.Contains(ep.params, k) || ep.signed && (k == "timestamp" || k == "recvWindow" || k == "signature")
		if !known {
			return nil, bad(-1104, "Not all sent parameters were read; read %d parameter(s) but was sent %d.", len(ep.params), len(p))
		}
	}
	if !ep.signed {
		return p, nil
	}
	if r.Header.Get("X-MBX-APIKEY") != f.apiKey {
		return nil, fail(http.StatusUnauthorized, -2015, "Invalid API-key, IP, or permissions for action.")
	}
	i := strings.LastIndex(total, "signature=")
	if i < 0 || p.Get("signature") == "" {
		return nil, bad(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
	}
	if i+len("signature=")+64 != len(total) {
		return nil, bad(-1022, "Signature for this request is not valid.") // not the last parameter
	}
	signed := strings.TrimSuffix(total[:i], "&")
	m := hmac.New(sha256.New, f.secret)
	m.Write([]byte(signed))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(p.Get("signature"))) {
		return nil, bad(-1022, "Signature for this request is not valid.")
	}
	ts, err := strconv.ParseInt(p.Get("timestamp"), 10, 64)
	if err != nil {
		return nil, bad(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
	}
	window := int64(5000)
	if s := p.Get("recvWindow"); s != "" {
		window, err = strconv.ParseInt(s, 10, 64)
		if err != nil || window <= 0 || window > 60000 {
			return nil, bad(-1131, "recvWindow must be less than 60000")
		}
	}
	f.mu.Lock()
	server := f.now().Add(f.skew).UnixMilli()
	f.mu.Unlock()
	if ts < server-window {
		return nil, bad(-1021, "Timestamp for this request is outside of the recvWindow.")
	}
	if ts > server+1000 {
		return nil, bad(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
	}
	return p, nil
}

func (f *Fake) serverTime(url.Values) (any, *venueError) {
	return map[string]int64{"serverTime": f.now().Add(f.skew).UnixMilli()}, nil
}

func (f *Fake) exchangeInfo(url.Values) (any, *venueError) {
	var syms []map[string]any
	for _, name := range slices.Sorted(maps.Keys(f.symbols)) {
		s := f.symbols[name]
		marketStep := s.MarketStep
		if marketStep == "" {
			marketStep = s.Step
		}
		filters := []map[string]any{
			{"filterType": "PRICE_FILTER", "minPrice": s.MinPrice, "maxPrice": s.MaxPrice, "tickSize": s.Tick},
			{"filterType": "LOT_SIZE", "minQty": s.MinQty, "maxQty": s.MaxQty, "stepSize": s.Step},
			{"filterType": "MARKET_LOT_SIZE", "minQty": s.MinQty, "maxQty": s.MaxQty, "stepSize": marketStep},
			{"filterType": "MAX_NUM_ORDERS", "limit": 200},
			{"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
			{"filterType": "MIN_NOTIONAL", "notional": s.MinNotional},
			{"filterType": "PERCENT_PRICE", "multiplierUp": s.Up, "multiplierDown": s.Down, "multiplierDecimal": "4"},
		}
		syms = append(syms, map[string]any{"symbol": name, "pair": name, "status": s.Status, "contractType": "PERPETUAL",
			"quoteAsset": "USDT", "marginAsset": "USDT", "filters": filters, "orderTypes": []string{"LIMIT", "MARKET"},
			"timeInForce": []string{"GTC", "IOC", "FOK", "GTX", "GTD"}})
	}
	var limits []map[string]any
	for _, l := range f.meter.limits {
		limits = append(limits, map[string]any{"rateLimitType": l.Type, "interval": l.Interval, "intervalNum": l.IntervalNum, "limit": l.Limit})
	}
	return map[string]any{"timezone": "UTC", "serverTime": f.now().UnixMilli(), "futuresType": "U_MARGINED",
		"rateLimits": limits, "exchangeFilters": []any{}, "symbols": syms}, nil
}

func (f *Fake) premiumIndex(p url.Values) (any, *venueError) {
	s, ok := f.symbols[p.Get("symbol")]
	if !ok || s.Mark == "" {
		return nil, bad(-1121, "Invalid symbol.")
	}
	return map[string]any{"symbol": s.Name, "markPrice": s.Mark, "indexPrice": s.Mark, "lastFundingRate": "0.0001", "time": f.now().UnixMilli()}, nil
}

var clientOrderIDRe = regexp.MustCompile(`^[\.A-Z\:/a-z0-9_-]{1,36}$`)

func rat(s string) (*big.Rat, bool) {
	if s == "" || strings.ContainsAny(s, "/+-eE ") {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

func dec(r *big.Rat) string {
	s := r.FloatString(8)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

func (f *Fake) newOrder(p url.Values) (any, *venueError) {
	for _, k := range []string{"symbol", "side", "type"} {
		if p.Get(k) == "" {
			return nil, bad(-1102, "Mandatory parameter '%s' was not sent, was empty/null, or malformed.", k)
		}
	}
	s, ok := f.symbols[p.Get("symbol")]
	if !ok {
		return nil, bad(-1121, "Invalid symbol.")
	}
	side, typ := p.Get("side"), p.Get("type")
	if side != "BUY" && side != "SELL" {
		return nil, bad(-1117, "Invalid side.")
	}
	if p.Get("closePosition") == "true" && p.Has("reduceOnly") {
		return nil, bad(-1106, "Parameter 'reduceOnly' sent when not required.")
	}
	if p.Get("closePosition") == "true" && p.Has("quantity") {
		return nil, bad(-1106, "Parameter 'quantity' sent when not required.")
	}
	switch typ {
	case "MARKET", "LIMIT":
	case "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET":
		return nil, bad(-4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
	default:
		return nil, bad(-1116, "Invalid orderType.")
	}
	if p.Has("closePosition") {
		return nil, bad(-1106, "Parameter 'closePosition' sent when not required.")
	}
	ps := p.Get("positionSide")
	if f.dual {
		if p.Has("reduceOnly") {
			return nil, bad(-1106, "Parameter 'reduceOnly' sent when not required.")
		}
		if ps != "LONG" && ps != "SHORT" {
			return nil, bad(-4061, "Order's position side does not match user's setting.")
		}
	} else if ps != "" && ps != "BOTH" {
		return nil, bad(-4061, "Order's position side does not match user's setting.")
	}
	reduce := false
	switch p.Get("reduceOnly") {
	case "", "false":
	case "true":
		reduce = true
	default:
		return nil, bad(-1102, "Parameter 'reduceOnly' is malformed.")
	}
	coid := p.Get("newClientOrderId")
	if coid == "" {
		f.seq++
		coid = "fake-" + strconv.FormatInt(f.seq, 10)
	}
	if !clientOrderIDRe.MatchString(coid) {
		return nil, bad(-4015, "Client order id is not valid.")
	}
	for _, o := range f.orders {
		if o.ClientOrderID == coid && (o.Status == "NEW" || o.Status == "PARTIALLY_FILLED") {
			return nil, bad(-4116, "ClientOrderId is duplicated.")
		}
	}
	qty, ok := rat(p.Get("quantity"))
	if !ok {
		return nil, bad(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
	}
	if qty.Sign() <= 0 {
		return nil, bad(-4003, "Quantity less than zero.")
	}
	// LOT_SIZE, or MARKET_LOT_SIZE for a MARKET order unless its step is 0.
	stepText := s.Step
	if m, _ := rat(s.MarketStep); typ == "MARKET" && m != nil && m.Sign() > 0 {
		stepText = s.MarketStep
	}
	step, _ := rat(stepText)
	minQ, _ := rat(s.MinQty)
	if decimals(p.Get("quantity")) > max(decimals(stepText), decimals(s.MinQty)) { // quantityPrecision
		return nil, bad(-1111, "Precision is over the maximum defined for this asset.")
	}
	if qty.Cmp(minQ) < 0 {
		return nil, bad(-4004, "Quantity less than min quantity.")
	}
	if maxQ, _ := rat(s.MaxQty); qty.Cmp(maxQ) > 0 {
		return nil, bad(-4005, "Quantity greater than max quantity.")
	}
	// The docs: (quantity - minQty) % stepSize == 0.
	if !new(big.Rat).Quo(new(big.Rat).Sub(qty, minQ), step).IsInt() {
		return nil, bad(-4023, "Qty not increased by step size.")
	}
	mark, ok := rat(s.Mark)
	if !ok {
		return nil, bad(-1121, "Invalid symbol.")
	}
	price := new(big.Rat)
	if typ == "LIMIT" {
		if p.Get("timeInForce") == "" {
			return nil, bad(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
		}
		if price, ok = rat(p.Get("price")); !ok || price.Sign() <= 0 {
			return nil, bad(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
		}
		minP, _ := rat(s.MinPrice)
		if price.Cmp(minP) < 0 {
			return nil, bad(-4013, "Price less than min price.")
		}
		if maxP, _ := rat(s.MaxPrice); price.Cmp(maxP) > 0 {
			return nil, bad(-4002, "Price greater than max price.")
		}
		// The docs: (price - minPrice) % tickSize == 0.
		if tick, _ := rat(s.Tick); !new(big.Rat).Quo(new(big.Rat).Sub(price, minP), tick).IsInt() {
			return nil, bad(-4014, "Price not increased by tick size.")
		}
		up, _ := rat(s.Up)
		down, _ := rat(s.Down)
		if hi := new(big.Rat).Mul(mark, up); side == "BUY" && price.Cmp(hi) > 0 {
			return nil, bad(-4016, "Limit price can't be higher than %s.", dec(hi))
		}
		if lo := new(big.Rat).Mul(mark, down); side == "SELL" && price.Cmp(lo) < 0 {
			return nil, bad(-4024, "Limit price can't be lower than %s.", dec(lo))
		}
	} else if p.Has("price") || p.Has("timeInForce") {
		return nil, bad(-1106, "Parameter 'price' sent when not required.")
	}
	notionalPrice := mark
	if typ == "LIMIT" {
		notionalPrice = price
	}
	if minN, _ := rat(s.MinNotional); !reduce && new(big.Rat).Mul(qty, notionalPrice).Cmp(minN) < 0 {
		return nil, bad(-4164, "Order's notional must be no smaller than %s (unless you choose reduce only).", s.MinNotional)
	}
	pos := f.pos(s.Name)
	signed := new(big.Rat).Set(qty)
	if side == "SELL" {
		signed.Neg(signed)
	}
	if reduce && (pos.Sign() == 0 || pos.Sign() == signed.Sign()) {
		return nil, bad(-2022, "ReduceOnly Order is rejected.")
	}
	respType := p.Get("newOrderRespType")
	if respType != "" && respType != "ACK" && respType != "RESULT" {
		return nil, bad(-1136, "Invalid newOrderRespType.")
	}
	f.seq++
	now := f.now().UnixMilli()
	o := &Order{OrderID: 1000 + f.seq, ClientOrderID: coid, Symbol: s.Name, Side: side, Type: typ,
		Status: "NEW", OrigQty: dec(qty), ExecutedQty: "0", Price: dec(price), AvgPrice: "0", ReduceOnly: reduce,
		Time: now, UpdateTime: now}
	f.orders = append(f.orders, o)
	if typ == "MARKET" || side == "BUY" && price.Cmp(mark) >= 0 || side == "SELL" && price.Cmp(mark) <= 0 {
		f.take(o, s)
	}
	if typ == "MARKET" && o.Status != "FILLED" {
		o.Status = "EXPIRED" // the book could not fill the rest
	}
	if respType == "ACK" {
		ack := *o
		ack.Status, ack.ExecutedQty, ack.AvgPrice = "NEW", "0", "0"
		return orderJSON(&ack), nil
	}
	return orderJSON(o), nil
}

// take fills what it can of o at the mark: up to the remaining quantity,
// the symbol's liquidity and, for a reduce-only order, the position (a
// reduce-only order never flips it).
func (f *Fake) take(o *Order, s Symbol) {
	mark, _ := rat(s.Mark)
	orig, _ := rat(o.OrigQty)
	done, _ := rat(o.ExecutedQty)
	q := new(big.Rat).Sub(orig, done)
	if liq, ok := rat(s.Liquidity); ok && liq.Cmp(q) < 0 {
		q = liq
	}
	pos := f.pos(s.Name)
	if o.ReduceOnly {
		if room := new(big.Rat).Abs(pos); (o.Side == "SELL") != (pos.Sign() > 0) {
			q = new(big.Rat)
		} else if room.Cmp(q) < 0 {
			q = room
		}
	}
	if q.Sign() <= 0 {
		return
	}
	total := new(big.Rat).Add(done, q)
	avg, _ := rat(o.AvgPrice)
	// The average price over both fills.
	avg = new(big.Rat).Quo(new(big.Rat).Add(new(big.Rat).Mul(avg, done), new(big.Rat).Mul(mark, q)), total)
	o.ExecutedQty, o.AvgPrice, o.UpdateTime = dec(total), dec(avg), f.now().UnixMilli()
	o.Status = "PARTIALLY_FILLED"
	if total.Cmp(orig) == 0 || o.ReduceOnly && q.Cmp(new(big.Rat).Abs(pos)) == 0 {
		o.Status = "FILLED"
	}
	if o.Side == "SELL" {
		q.Neg(q)
	}
	f.positions[s.Name] = new(big.Rat).Add(pos, q)
}

// matchResting fills the symbol's resting LIMIT orders the mark crosses.
func (f *Fake) matchResting(s Symbol) {
	mark, ok := rat(s.Mark)
	if !ok {
		return
	}
	for _, o := range f.orders {
		if o.Symbol != s.Name || o.Type != "LIMIT" || !open(o) {
			continue
		}
		price, _ := rat(o.Price)
		if o.Side == "BUY" && price.Cmp(mark) >= 0 || o.Side == "SELL" && price.Cmp(mark) <= 0 {
			f.take(o, s)
		}
	}
}

// decimals is the number of decimal places of a decimal text.
func decimals(s string) int {
	_, frac, ok := strings.Cut(s, ".")
	if !ok {
		return 0
	}
	return len(strings.TrimRight(frac, "0"))
}

func orderJSON(o *Order) map[string]any {
	cumQuote := "0"
	if q, ok := rat(o.ExecutedQty); ok {
		if a, ok := rat(o.AvgPrice); ok {
			cumQuote = dec(new(big.Rat).Mul(q, a))
		}
	}
	return map[string]any{"orderId": o.OrderID, "clientOrderId": o.ClientOrderID, "symbol": o.Symbol,
		"side": o.Side, "positionSide": "BOTH", "type": o.Type, "origType": o.Type, "status": o.Status,
		"origQty": o.OrigQty, "executedQty": o.ExecutedQty, "cumQty": o.ExecutedQty, "cumQuote": cumQuote,
		"price": o.Price, "avgPrice": o.AvgPrice, "stopPrice": "0", "reduceOnly": o.ReduceOnly, "closePosition": false,
		"timeInForce": "GTC", "workingType": "CONTRACT_PRICE", "priceProtect": false, "priceMatch": "NONE",
		"selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": o.Time, "updateTime": o.UpdateTime}
}

// forgotten is an order Binance no longer finds: CANCELED or EXPIRED
// without a fill, created more than 3 days ago.
func (f *Fake) forgotten(o *Order) bool {
	return (o.Status == "CANCELED" || o.Status == "EXPIRED") && o.ExecutedQty == "0" &&
		f.now().UnixMilli() > o.Time+forgetAfter.Milliseconds()
}

const forgetAfter = 3 * 24 * time.Hour

func (f *Fake) queryOrder(p url.Values) (any, *venueError) {
	if p.Get("symbol") == "" {
		return nil, bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
	}
	coid, id := p.Get("origClientOrderId"), p.Get("orderId")
	if coid == "" && id == "" {
		return nil, bad(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
	}
	// The latest order with the id (a filled one's id may be used again).
	for i := len(f.orders) - 1; i >= 0; i-- {
		o := f.orders[i]
		if o.Symbol == p.Get("symbol") && (coid != "" && o.ClientOrderID == coid || id != "" && strconv.FormatInt(o.OrderID, 10) == id) && !f.forgotten(o) {
			return orderJSON(o), nil
		}
	}
	return nil, bad(-2013, "Order does not exist.")
}

// allOrders is GET /fapi/v1/allOrders: the symbol's orders from orderId
// on, or within [startTime, endTime] (at most 7 days apart), oldest first,
// at most limit (default 500, at most 1000) of them: the most recent ones
// when neither orderId nor startTime is given.
func (f *Fake) allOrders(p url.Values) (any, *venueError) {
	sym := p.Get("symbol")
	if sym == "" {
		return nil, bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
	}
	num := func(k string, def int64) (int64, *venueError) {
		if !p.Has(k) {
			return def, nil
		}
		n, err := strconv.ParseInt(p.Get(k), 10, 64)
		if err != nil || n < 0 {
			return 0, bad(-1102, "Parameter '%s' is malformed.", k)
		}
		return n, nil
	}
	limit, verr := num("limit", 500)
	if verr != nil {
		return nil, verr
	}
	if limit < 1 || limit > 1000 {
		return nil, bad(-1130, "Invalid data sent for a parameter: limit.")
	}
	fromID, verr := num("orderId", 0)
	if verr != nil {
		return nil, verr
	}
	now := f.now().UnixMilli()
	end, verr := num("endTime", now)
	if verr != nil {
		return nil, verr
	}
	start, verr := num("startTime", end-7*24*time.Hour.Milliseconds())
	if verr != nil {
		return nil, verr
	}
	if end-start > 7*24*time.Hour.Milliseconds() {
		return nil, bad(-1127, "Lookup interval is too big.")
	}
	var out []map[string]any
	for _, o := range f.orders {
		if o.Symbol != sym || o.OrderID < fromID || f.forgotten(o) || (fromID == 0 && (o.Time < start || o.Time > end)) {
			continue
		}
		out = append(out, orderJSON(o))
	}
	if int64(len(out)) > limit {
		if p.Has("orderId") || p.Has("startTime") {
			out = out[:limit]
		} else {
			out = out[int64(len(out))-limit:]
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	return out, nil
}

func (f *Fake) setLeverage(p url.Values) (any, *venueError) {
	s, ok := f.symbols[p.Get("symbol")]
	if !ok {
		return nil, bad(-1121, "Invalid symbol.")
	}
	lev, err := strconv.Atoi(p.Get("leverage"))
	if err != nil || lev < 1 || lev > s.MaxLeverage {
		return nil, bad(-4028, "Leverage %s is not valid", p.Get("leverage"))
	}
	f.leverage[s.Name] = lev
	return map[string]any{"leverage": lev, "maxNotionalValue": "1000000", "symbol": s.Name}, nil
}

func (f *Fake) positionRisk(p url.Values) (any, *venueError) {
	out := []map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(f.positions)) {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		amt := f.positions[name]
		if amt.Sign() == 0 {
			continue
		}
		if f.dual {
			side := "LONG"
			if amt.Sign() < 0 {
				side = "SHORT"
			}
			out = append(out, map[string]any{"symbol": name, "positionSide": side, "positionAmt": dec(amt)})
			continue
		}
		out = append(out, map[string]any{"symbol": name, "positionSide": "BOTH", "positionAmt": dec(amt),
			"markPrice": f.symbols[name].Mark})
	}
	return out, nil
}

func (f *Fake) account(url.Values) (any, *venueError) {
	return map[string]any{"canTrade": f.canTrade, "canDeposit": true, "canWithdraw": false, "totalWalletBalance": "1000"}, nil
}

func (f *Fake) tradingStatus(url.Values) (any, *venueError) {
	ind := map[string]any{}
	for sym := range f.locked {
		ind[sym] = []map[string]any{{"isLocked": true, "plannedRecoverTime": f.now().Add(time.Hour).UnixMilli(),
			"indicator": "UFR", "value": 0.99, "triggerValue": 0.99}}
	}
	if f.acctLock {
		ind["ACCOUNT"] = []map[string]any{{"indicator": "TMV", "value": 10, "triggerValue": 1,
			"plannedRecoverTime": f.now().Add(time.Hour).UnixMilli(), "isLocked": true}}
	}
	return map[string]any{"indicators": ind, "updateTime": f.now().UnixMilli()}, nil
}

func (f *Fake) leverageBracket(p url.Values) (any, *venueError) {
	var out []map[string]any
	for _, name := range slices.Sorted(maps.Keys(f.symbols)) {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		s := f.symbols[name]
		out = append(out, map[string]any{"symbol": name, "notionalCoef": 1.0, "brackets": []map[string]any{
			{"bracket": 1, "initialLeverage": s.MaxLeverage, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0},
			{"bracket": 2, "initialLeverage": max(1, s.MaxLeverage/2), "notionalCap": 250000, "notionalFloor": 50000, "maintMarginRatio": 0.005, "cum": 50},
		}})
	}
	if len(out) == 0 {
		return nil, bad(-1121, "Invalid symbol.")
	}
	return out, nil
}
