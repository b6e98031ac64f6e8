package binancefake

// The HTTP side: routing, authentication, injected faults, the answers
// of the market data endpoints.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
	"/fapi/v1/income": {method: "GET", signed: true, params: []string{"symbol", "incomeType", "startTime", "endTime", "page", "limit"},
		run: (*Fake).incomeHistory},
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
