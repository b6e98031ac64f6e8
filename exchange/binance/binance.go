// Package binance is the exchange.Venue of Binance USD-M perpetual
// futures: a thin REST client of our own over net/http and crypto/hmac.
//
// # Why our own client
//
// github.com/adshao/go-binance/v2 (the usual Go client, which would have
// to be pinned at v2.8.11) was weighed and not taken:
//
//   - the adapter needs seven REST endpoints; the library brings the whole
//     API surface, websockets and their dependencies into a binary whose
//     job is to be small and auditable;
//   - exactly-once needs to know whether a request left the process (sent
//     and unanswered means "outcome unknown", never sent means "nothing
//     happened"): that takes an httptrace hook on the request, which the
//     library does not expose, and its errors flatten HTTP status, venue
//     code and transport failure into one type;
//   - quantities and prices must stay decimal text end to end; the library
//     takes strings too, but its responses and filters are parsed by hand
//     anyway to apply LOT_SIZE, MIN_NOTIONAL and PERCENT_PRICE exactly;
//   - a pinned library goes stale against a venue that moves (conditional
//     orders moved to /fapi/v1/algoOrder after the module proxy's latest),
//     while the endpoints used here are few and cited below, each tested
//     against a strict local fake (package binancefake).
//
// # What it does
//
// Signed requests (USER_DATA and TRADE) carry timestamp, recvWindow and an
// HMAC-SHA256 signature of the exact parameter text sent, with the API key
// in the X-MBX-APIKEY header. The timestamp is the local clock plus an
// offset to the server's clock (GET /fapi/v1/time), measured at Open and
// again every Config.TimeSync; a -1021 (timestamp outside recvWindow)
// re-measures it and sends the request once more, since such a request was
// refused before it executed.
//
// The base URL is required (LiveURL, TestnetURL, DemoURL or a fake's): an
// empty one is refused, never taken for live; Open logs a LIVE banner for
// Binance's live host.
//
// Orders are MARKET or LIMIT (GTC) through POST /fapi/v1/order with
// newClientOrderId = the plan's client order id, positionSide=BOTH,
// reduceOnly, and newOrderRespType=RESULT. Open refuses an account in
// hedge mode (GET /fapi/v1/positionSide/dual): positions here are one
// signed amount per symbol. Before an order is sent the symbol's filters
// from GET /fapi/v1/exchangeInfo (cached for Config.FilterTTL) are applied:
// the quantity is rounded down to the LOT_SIZE step (MARKET_LOT_SIZE for
// market orders, unless its step is 0), counted from minQty as the docs
// define it, exactly, in decimal; a quantity below the minimum, a
// notional below MIN_NOTIONAL (not applied to reduce-only orders, as at
// Binance), a LIMIT price off the tick or outside the PERCENT_PRICE collar
// around the mark price is refused as *exchange.Rejected with Binance's code
// and a message starting "not sent:", instead of being sent to fail.
//
// # Exactly once
//
// Binance keeps newClientOrderId unique among OPEN orders only: once an
// order has filled, a second order with the same id is accepted; and it
// forgets CANCELED or EXPIRED orders without a fill after 3 days. So a
// client order id is never sent twice blindly: PlaceOrder remembers the
// attempts it made, and a second PlaceOrder with one of their ids
// reconciles first (look-up by origClientOrderId, then, once an unknown
// attempt can no longer execute, the account's recent orders by id,
// GET /fapi/v1/allOrders) and sends again only when the order is nowhere.
// While an earlier attempt whose outcome was unknown may still execute
// (its timestamp + recvWindow + SettleMargin has not passed: the matching
// engine drops older requests), it answers ErrUnknownOutcome without
// sending. A -4116 (the id is held by an open order) is looked up and
// returned. An answer for another client order id, symbol or side is an
// unknown outcome. Across processes the apply layer looks a resumed plan
// up before placing it.
//
// Errors: a venue refusal (-2022 reduce-only rejected, -2019 margin, ...)
// is *exchange.Rejected with the venue's code. -1000, -1001, -1006, -1007,
// HTTP 408 without a code, HTTP 5xx and a timeout after the request was
// written are exchange.ErrUnknownOutcome for requests that change state
// (an order, a leverage), so the caller reconciles by client order id; for
// reads they are exchange.ErrUnavailable. HTTP 429 and 418, -1003 and
// -1015 start a back-off that honours Retry-After: until it ends no
// request is sent and every call returns a *RateLimited, which is
// exchange.ErrUnavailable (nothing was executed); each one counts in
// quantum_binance_rate_limited_total. A request that never left the
// process (connection refused, context done first, back-off, no room in
// the limiter) is exchange.ErrUnavailable.
//
// # Rate limits
//
// A Limiter (limiter.go) keeps the adapter under exchangeInfo's
// rateLimits, counting each request's documented weight and orders before
// it is sent and following the X-MBX-USED-WEIGHT-* and X-MBX-ORDER-COUNT-*
// headers; exits (reduce-only orders, calls marked exchange.Urgent) keep a
// reserved share. NewRedisLimiter shares the windows and the back-off
// between replicas.
//
// The API secret and key never appear in errors or logs: Credentials
// formats as "[redacted]", and transport errors are rebuilt from the
// method and path only (net/http's own would repeat the signed URL).
package binance

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantumtrader/quantum/exchange"
)

// Base URLs of the three environments. Keys of one are refused by the
// others (-2015): a live key comes from the API management page of a
// Binance account, a demo key from Binance's demo trading
// (demo-fapi.binance.com, what current clients call the futures test
// environment), a testnet key from testnet.binancefuture.com.
const (
	LiveURL    = "https://fapi.binance.com"
	TestnetURL = "https://testnet.binancefuture.com"
	DemoURL    = "https://demo-fapi.binance.com"
)

// Environment is which Binance a base URL reaches.
type Environment string

// Environments.
const (
	EnvLive    Environment = "live"
	EnvTestnet Environment = "testnet"
	EnvDemo    Environment = "demo"
	EnvOther   Environment = "other" // a local fake, a proxy: not Binance's own host
)

// EnvironmentOf tells the environment of a base URL by its host.
func EnvironmentOf(baseURL string) Environment {
	u, err := url.Parse(baseURL)
	if err != nil {
		return EnvOther
	}
	switch strings.ToLower(u.Hostname()) {
	case "fapi.binance.com":
		return EnvLive
	case "testnet.binancefuture.com":
		return EnvTestnet
	case "demo-fapi.binance.com":
		return EnvDemo
	}
	return EnvOther
}

// ResolveURL turns an environment name (live, testnet, demo) into its base
// URL and returns any other text unchanged. Empty stays empty: New refuses
// it, so that an unset variable never means live.
func ResolveURL(s string) string {
	switch Environment(strings.ToLower(strings.TrimSpace(s))) {
	case EnvLive:
		return LiveURL
	case EnvTestnet:
		return TestnetURL
	case EnvDemo:
		return DemoURL
	}
	return s
}

// Defaults of Config.
const (
	DefaultRecvWindow = 5 * time.Second
	DefaultTimeout    = 10 * time.Second
	DefaultTimeSync   = 10 * time.Minute
	DefaultFilterTTL  = time.Hour
	DefaultMarkTTL    = 2 * time.Second
	// DefaultBackoff is the back-off after a 429 or -1003 without Retry-After.
	DefaultBackoff = 10 * time.Second
	// DefaultBanBackoff is the back-off after a 418 without Retry-After.
	DefaultBanBackoff = 2 * time.Minute
	// DefaultSettleMargin is added to recvWindow before an order whose
	// outcome was unknown counts as settled (see PlaceOrder).
	DefaultSettleMargin = 2 * time.Second
)

// Binance USD-M error codes the adapter acts on or refuses with.
const (
	CodeUnknown            = -1000
	CodeDisconnected       = -1001
	CodeTooManyRequests    = -1003
	CodeUnexpectedResp     = -1006
	CodeTimeout            = -1007
	CodeInvalidTimestamp   = -1021
	CodeInvalidSignature   = -1022
	CodePrecision          = -1111
	CodeNoSuchOrder        = -2013
	CodeRejectedAPIKey     = -2015
	CodePriceTooHigh       = -4002
	CodeQtyNotPositive     = -4003
	CodeQtyTooSmall        = -4004
	CodeQtyTooLarge        = -4005
	CodePriceTooLow        = -4013
	CodeTickSize           = -4014
	CodeInvalidClientOrder = -4015
	CodeStepSize           = -4023
	CodePriceAboveCollar   = -4016
	CodePriceBelowCollar   = -4024
	CodeMinNotional        = -4164
)

// Config configures a Client. Credentials is required for everything but
// the public market data.
type Config struct {
	BaseURL     string        // LiveURL, TestnetURL, DemoURL or a fake's; required (empty is refused, never live)
	Credentials Credentials   // API key and secret
	RecvWindow  time.Duration // how long a signed request stays valid; at most 60s
	Timeout     time.Duration // per request, on top of the caller's context
	TimeSync    time.Duration // re-measure the server time offset this often
	FilterTTL   time.Duration // re-read exchangeInfo this often
	MarkTTL     time.Duration // reuse a mark price this long (MarkPrice then PlaceOrder)
	HTTPClient  *http.Client  // default: a client of its own
	Now         func() time.Time
	Log         *slog.Logger
	Metrics     *Metrics // optional
	// Limiter keeps requests under the venue's rate limits; share one
	// NewRedisLimiter between replicas. Default: NewLocalLimiter.
	Limiter *Limiter
	// SettleMargin: an order attempt whose outcome is unknown counts as
	// settled (it can no longer execute) once the venue's clock is past
	// its timestamp + RecvWindow + SettleMargin. Default DefaultSettleMargin.
	SettleMargin time.Duration
}

// Client is the Binance USD-M adapter. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client

	offsetMs atomic.Int64 // server time - local time, ms
	syncedAt atomic.Int64 // unix nanos of the last offset measurement

	mu        sync.Mutex
	filters   map[string]*symbolFilters
	filtersAt time.Time
	marks     map[string]markEntry
	sent      sentIDs
}

type markEntry struct {
	text string
	at   time.Time
}

var _ exchange.Venue = (*Client)(nil)

// New returns a Client without any I/O; Open is New plus the start-up
// checks, and is what a trading process uses.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, fmt.Errorf("binance: no base URL: give %s (testnet), %s (demo) or, to trade for real, %s", TestnetURL, DemoURL, LiveURL)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("binance: base URL %q: want https://host", cfg.BaseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if cfg.RecvWindow <= 0 {
		cfg.RecvWindow = DefaultRecvWindow
	}
	if cfg.RecvWindow > time.Minute {
		return nil, fmt.Errorf("binance: recvWindow %v: at most 60s", cfg.RecvWindow)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TimeSync <= 0 {
		cfg.TimeSync = DefaultTimeSync
	}
	if cfg.FilterTTL <= 0 {
		cfg.FilterTTL = DefaultFilterTTL
	}
	if cfg.MarkTTL <= 0 {
		cfg.MarkTTL = DefaultMarkTTL
	}
	if cfg.SettleMargin <= 0 {
		cfg.SettleMargin = DefaultSettleMargin
	}
	if cfg.Limiter == nil {
		cfg.Limiter = NewLocalLimiter()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{cfg: cfg, base: u, http: hc, marks: map[string]markEntry{}, sent: newSentIDs(4096)}, nil
}

// Environment is the environment the client trades in.
func (c *Client) Environment() Environment { return EnvironmentOf(c.base.String()) }

// RateLimits returns the rate limits the client keeps to (exchangeInfo's,
// once read).
func (c *Client) RateLimits() []RateLimit { return c.cfg.Limiter.Limits() }

// Open returns a Client ready to trade: it loads the exchange filters and
// rate limits, measures the server time offset, and refuses an account in
// hedge mode.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Credentials.empty() {
		return nil, errors.New("binance: no API key and secret")
	}
	// exchangeInfo first: its rateLimits govern the rest. The start-up
	// requests wait for room in the limiter as exits do.
	ctx = exchange.Urgent(ctx)
	if err := c.loadFilters(ctx); err != nil {
		return nil, err
	}
	if _, err := c.SyncTime(ctx); err != nil {
		return nil, err
	}
	dual, err := c.HedgeMode(ctx)
	if err != nil {
		return nil, err
	}
	if dual {
		return nil, ErrHedgeMode
	}
	if c.Environment() == EnvLive {
		c.cfg.Log.Warn("LIVE Binance USD-M: orders are real", "base_url", c.base.String())
	}
	c.cfg.Log.Info("binance venue ready", "base_url", c.base.String(), "environment", c.Environment(),
		"time_offset_ms", c.offsetMs.Load(), "symbols", c.symbolCount(), "rate_limits", c.RateLimits())
	return c, nil
}

// ErrHedgeMode is Open's refusal of an account in hedge mode.
var ErrHedgeMode = errors.New("binance: the account is in hedge mode (dualSidePosition=true); " +
	"this adapter trades one-way mode only (positionSide=BOTH): switch the USD-M account to one-way mode " +
	"(Preferences > Position Mode, or POST /fapi/v1/positionSide/dual dualSidePosition=false with no open positions or orders)")

// RateLimited is the error of a request refused for its rate (HTTP 429,
// 418, -1003, -1015), not sent because the back-off it started still runs,
// or not sent because the client-side limiter has no room for it (Local).
// It is exchange.ErrUnavailable: nothing was executed.
type RateLimited struct {
	Status int       // 429 or 418; 0 when the request was not sent
	Code   int       // the venue code, -1003 when given
	Until  time.Time // no request is sent before (Local: the window with room begins)
	Local  bool      // refused by the client-side limiter, before the venue
}

func (e *RateLimited) Error() string {
	if e.Local {
		return fmt.Sprintf("binance: client-side rate limit reached (exits keep a reserved share), next window at %s: request not sent",
			e.Until.UTC().Format(time.RFC3339Nano))
	}
	if e.Status == 0 {
		return fmt.Sprintf("binance: rate limited, backing off until %s: request not sent", e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("binance: rate limited (HTTP %d, code %d), backing off until %s", e.Status, e.Code, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes a RateLimited exchange.ErrUnavailable.
func (e *RateLimited) Unwrap() error { return exchange.ErrUnavailable }

// request is one REST call.
type request struct {
	method, path string
	params       url.Values // without timestamp, recvWindow and signature
	signed       bool
	mutates      bool   // may change state at the venue: unknown outcomes matter
	sentTS       *int64 // when set, receives the timestamp of the last signed attempt (venue ms)
}

// weights are the documented request weights of the endpoints used
// ("Request Weight" on each endpoint's page of the USD-M docs). A new
// order weighs 0 on the IP limit and 1 on each ORDERS limit.
var weights = map[string]int{
	"GET /fapi/v1/time": 1, "GET /fapi/v1/exchangeInfo": 1, "GET /fapi/v1/premiumIndex": 1,
	"GET /fapi/v1/positionSide/dual": 30, "POST /fapi/v1/order": 0, "GET /fapi/v1/order": 1,
	"POST /fapi/v1/leverage": 1, "GET /fapi/v3/positionRisk": 5, "GET /fapi/v2/account": 5,
	"GET /fapi/v1/apiTradingStatus": 10, "GET /fapi/v1/leverageBracket": 1, "GET /fapi/v1/allOrders": 5,
}

// cost is a request's weight and orders.
func (r request) cost() (weight, orders int) {
	k := r.method + " " + r.path
	w, ok := weights[k]
	if !ok {
		w = 10 // an endpoint not in the table: count it heavy rather than free
	}
	if k == "POST /fapi/v1/order" {
		return w, 1
	}
	return w, 0
}

// apiError is Binance's error body.
type apiError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// unknownCodes are the venue codes whose execution status is unknown.
var unknownCodes = map[int]bool{CodeUnknown: true, CodeDisconnected: true, CodeUnexpectedResp: true, CodeTimeout: true}

// do sends r and decodes a 200 answer into out (when not nil). It retries
// once after a -1021, which the venue answers before executing anything.
func (c *Client) do(ctx context.Context, r request, out any) error {
	err := c.send(ctx, r, out)
	var rej *exchange.Rejected
	if r.signed && errors.As(err, &rej) && rej.Code == CodeInvalidTimestamp {
		c.cfg.Log.Warn("binance: timestamp outside recvWindow, re-measuring the server time offset", "path", r.path)
		if _, serr := c.SyncTime(ctx); serr != nil {
			return fmt.Errorf("%w (and re-measuring the time offset failed: %w)", err, serr)
		}
		err = c.send(ctx, r, out)
	}
	return err
}

func (c *Client) send(ctx context.Context, r request, out any) error {
	what := r.method + " " + r.path
	weight, orders := r.cost()
	if err := c.cfg.Limiter.take(ctx, c.venueNow, weight, orders, exchange.IsUrgent(ctx)); err != nil {
		c.count(r.path, "backoff")
		return fmt.Errorf("binance: %s: %w", what, err)
	}
	now := c.cfg.Now()
	if r.signed {
		if c.cfg.Credentials.empty() {
			return fmt.Errorf("binance: %s: no API key and secret: %w", what, exchange.ErrUnavailable)
		}
		if time.Duration(now.UnixNano()-c.syncedAt.Load()) > c.cfg.TimeSync {
			if _, err := c.SyncTime(ctx); err != nil {
				c.cfg.Log.Warn("binance: could not re-measure the server time offset; keeping the last one", "error", err)
			}
		}
	}
	payload := r.params.Encode()
	if r.signed {
		ts := now.UnixMilli() + c.offsetMs.Load()
		extra := "timestamp=" + strconv.FormatInt(ts, 10) + "&recvWindow=" + strconv.FormatInt(c.cfg.RecvWindow.Milliseconds(), 10)
		if payload == "" {
			payload = extra
		} else {
			payload += "&" + extra
		}
		payload += "&signature=" + c.cfg.Credentials.sign(payload)
		if r.sentTS != nil {
			*r.sentTS = ts
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	u := c.base.String() + r.path
	var body io.Reader
	if r.method == http.MethodGet || r.method == http.MethodDelete {
		if payload != "" {
			u += "?" + payload
		}
	} else {
		body = strings.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return fmt.Errorf("binance: %s: build request: %w", what, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.signed {
		req.Header.Set("X-MBX-APIKEY", c.cfg.Credentials.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL (signature included): keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if wrote.Load() && r.mutates {
			c.count(r.path, "unknown")
			return fmt.Errorf("binance: %s: sent, no answer: %w: %w", what, exchange.ErrUnknownOutcome, err)
		}
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: %w: %w", what, exchange.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	c.cfg.Limiter.observe(ctx, c.venueNow(), resp.Header)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if r.mutates {
			c.count(r.path, "unknown")
			return fmt.Errorf("binance: %s: reading the answer: %w: %w", what, exchange.ErrUnknownOutcome, err)
		}
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: reading the answer: %w: %w", what, exchange.ErrUnavailable, err)
	}
	var ae apiError
	if resp.StatusCode != http.StatusOK {
		json.Unmarshal(data, &ae)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		c.count(r.path, "ok")
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			if r.mutates {
				return fmt.Errorf("binance: %s: unreadable answer: %w: %w", what, exchange.ErrUnknownOutcome, err)
			}
			return fmt.Errorf("binance: %s: unreadable answer: %w", what, err)
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusTeapot || ae.Code == CodeTooManyRequests:
		return fmt.Errorf("binance: %s: %w", what, c.rateLimited(ctx, resp, ae))
	case resp.StatusCode >= 500 || unknownCodes[ae.Code] || (resp.StatusCode == http.StatusRequestTimeout && ae.Code == 0):
		// 5xx, the unknown codes, and a 408 without a code (the docs: a
		// timeout waiting for the backend) may all have executed.
		desc := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if ae.Code != 0 {
			desc = fmt.Sprintf("HTTP %d, code %d: %s", resp.StatusCode, ae.Code, ae.Msg)
		}
		if r.mutates {
			c.count(r.path, "unknown")
			return fmt.Errorf("binance: %s: %s: %w", what, desc, exchange.ErrUnknownOutcome)
		}
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: %s: %w", what, desc, exchange.ErrUnavailable)
	case ae.Code != 0:
		c.count(r.path, "rejected")
		return &exchange.Rejected{Code: ae.Code, Msg: ae.Msg}
	default:
		// A 4xx without a venue code (a WAF's 403, a proxy): not executed.
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: HTTP %d without a venue code: %w", what, resp.StatusCode, exchange.ErrUnavailable)
	}
}

// rateLimited starts the back-off of a 429, 418 or -1003 answer, in the
// limiter's store (shared by replicas).
func (c *Client) rateLimited(ctx context.Context, resp *http.Response, ae apiError) *RateLimited {
	d := DefaultBackoff
	if resp.StatusCode == http.StatusTeapot {
		d = DefaultBanBackoff
	}
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	}
	now := c.venueNow()
	until := now.Add(d)
	c.cfg.Limiter.backoff(ctx, now, until)
	if m := c.cfg.Metrics; m != nil {
		m.rateLimited.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
		m.backoffUntil.Set(float64(until.Unix()))
	}
	c.cfg.Log.Warn("binance: rate limited, backing off", "status", resp.StatusCode, "code", ae.Code, "retry_after", d, "until", until)
	return &RateLimited{Status: resp.StatusCode, Code: ae.Code, Until: until}
}

// venueNow is the venue's clock as last measured: the local clock plus
// the offset.
func (c *Client) venueNow() time.Time {
	return c.cfg.Now().Add(time.Duration(c.offsetMs.Load()) * time.Millisecond)
}

func (c *Client) count(path, result string) {
	if m := c.cfg.Metrics; m != nil {
		m.requests.WithLabelValues(path, result).Inc()
	}
}

// SyncTime measures the offset of the server's clock to the local one
// (GET /fapi/v1/time), keeps it for signed requests and returns it.
func (c *Client) SyncTime(ctx context.Context) (time.Duration, error) {
	var out struct {
		ServerTime int64 `json:"serverTime"`
	}
	t0 := c.cfg.Now()
	if err := c.send(ctx, request{method: http.MethodGet, path: "/fapi/v1/time"}, &out); err != nil {
		return 0, err
	}
	t1 := c.cfg.Now()
	if out.ServerTime <= 0 {
		return 0, errors.New("binance: GET /fapi/v1/time: no serverTime in the answer")
	}
	mid := t0.UnixMilli() + (t1.UnixMilli()-t0.UnixMilli())/2
	off := out.ServerTime - mid
	c.offsetMs.Store(off)
	c.syncedAt.Store(t1.UnixNano())
	if m := c.cfg.Metrics; m != nil {
		m.timeOffset.Set(float64(off) / 1000)
	}
	return time.Duration(off) * time.Millisecond, nil
}

// attempt is what the client remembers of the last order sent under a
// client order id.
type attempt struct {
	ts      int64 // its timestamp, venue ms (the venue refuses it after ts + recvWindow)
	unknown bool  // its outcome was never known (no answer, 5xx, -1007, ...)
}

// sentIDs remembers the last n client order ids sent, oldest forgotten first.
type sentIDs struct {
	set  map[string]*attempt
	ring []string
	next int
}

func newSentIDs(n int) sentIDs { return sentIDs{set: map[string]*attempt{}, ring: make([]string, n)} }

func (s *sentIDs) add(id string) *attempt {
	if a := s.set[id]; a != nil {
		return a
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	a := &attempt{}
	s.set[id] = a
	return a
}

// sign is kept here so that every use of the secret is in two places:
// sign and Credentials.
func (k Credentials) sign(payload string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}
