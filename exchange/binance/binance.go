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
// Orders are MARKET or LIMIT (GTC) through POST /fapi/v1/order with
// newClientOrderId = the plan's client order id, positionSide=BOTH,
// reduceOnly, and newOrderRespType=RESULT. Open refuses an account in
// hedge mode (GET /fapi/v1/positionSide/dual): positions here are one
// signed amount per symbol. Before an order is sent the symbol's filters
// from GET /fapi/v1/exchangeInfo (cached for Config.FilterTTL) are applied:
// the quantity is rounded down to the LOT_SIZE step (MARKET_LOT_SIZE for
// market orders), exactly, in decimal; a quantity below the minimum, a
// notional below MIN_NOTIONAL (not applied to reduce-only orders, as at
// Binance), a LIMIT price off the tick or outside the PERCENT_PRICE collar
// around the mark price is refused as *exchange.Rejected with Binance's code
// and a message starting "not sent:", instead of being sent to fail.
//
// # Exactly once
//
// Binance keeps newClientOrderId unique among OPEN orders only: once an
// order has filled, a second order with the same id is accepted. So a
// client order id is never sent twice blindly: PlaceOrder remembers the ids
// it sent, and a second PlaceOrder with one of them looks the order up
// (GET /fapi/v1/order by origClientOrderId) and returns it when found. A
// -4116 (the id is held by an open order) is answered the same way: the
// order is looked up and returned as already submitted. Across processes
// the apply layer looks a resumed plan up before placing it.
//
// Errors: a venue refusal (-2022 reduce-only rejected, -2019 margin, ...)
// is *exchange.Rejected with the venue's code. -1000, -1001, -1006, -1007,
// HTTP 5xx and a timeout after the request was written are
// exchange.ErrUnknownOutcome for requests that change state (an order, a
// leverage), so the caller reconciles by client order id; for reads they
// are exchange.ErrUnavailable. HTTP 429 and 418 and -1003 start a back-off
// that honours Retry-After: until it ends no request is sent and every call
// returns a *RateLimited, which is exchange.ErrUnavailable (nothing was
// executed); each one counts in quantum_binance_rate_limited_total. A
// request that never left the process (connection refused, context done
// first, back-off) is exchange.ErrUnavailable.
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

// Base URLs.
const (
	LiveURL    = "https://fapi.binance.com"
	TestnetURL = "https://testnet.binancefuture.com"
)

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
	CodeQtyTooSmall        = -4003
	CodeQtyTooLarge        = -4005
	CodeTickSize           = -4014
	CodeInvalidClientOrder = -4015
	CodePriceAboveCollar   = -4016
	CodePriceBelowCollar   = -4024
	CodeMinNotional        = -4164
)

// Config configures a Client. Credentials is required for everything but
// the public market data.
type Config struct {
	BaseURL     string        // LiveURL, TestnetURL or a fake's; default LiveURL
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
}

// Client is the Binance USD-M adapter. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client

	offsetMs atomic.Int64 // server time - local time, ms
	syncedAt atomic.Int64 // unix nanos of the last offset measurement

	mu        sync.Mutex
	backoffTo time.Time
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
	if cfg.BaseURL == "" {
		cfg.BaseURL = LiveURL
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

// Open returns a Client ready to trade: it measures the server time offset,
// refuses an account in hedge mode, and loads the exchange filters.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Credentials.empty() {
		return nil, errors.New("binance: no API key and secret")
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
	if err := c.loadFilters(ctx); err != nil {
		return nil, err
	}
	c.cfg.Log.Info("binance venue ready", "base_url", c.base.String(), "time_offset_ms", c.offsetMs.Load(),
		"symbols", c.symbolCount())
	return c, nil
}

// ErrHedgeMode is Open's refusal of an account in hedge mode.
var ErrHedgeMode = errors.New("binance: the account is in hedge mode (dualSidePosition=true); " +
	"this adapter trades one-way mode only (positionSide=BOTH): switch the USD-M account to one-way mode " +
	"(Preferences > Position Mode, or POST /fapi/v1/positionSide/dual dualSidePosition=false with no open positions or orders)")

// RateLimited is the error of a request refused for its rate (HTTP 429,
// 418, -1003) or not sent because the back-off it started still runs. It
// is exchange.ErrUnavailable: nothing was executed.
type RateLimited struct {
	Status int       // 429 or 418; 0 when the request was not sent
	Code   int       // the venue code, -1003 when given
	Until  time.Time // no request is sent before
}

func (e *RateLimited) Error() string {
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
	mutates      bool // may change state at the venue: unknown outcomes matter
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
	now := c.cfg.Now()
	c.mu.Lock()
	until := c.backoffTo
	c.mu.Unlock()
	if now.Before(until) {
		c.count(r.path, "backoff")
		return fmt.Errorf("binance: %s: %w", what, &RateLimited{Until: until})
	}
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
		return fmt.Errorf("binance: %s: %w", what, c.rateLimited(resp, ae))
	case resp.StatusCode >= 500 || unknownCodes[ae.Code]:
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

// rateLimited starts the back-off of a 429, 418 or -1003 answer.
func (c *Client) rateLimited(resp *http.Response, ae apiError) *RateLimited {
	d := DefaultBackoff
	if resp.StatusCode == http.StatusTeapot {
		d = DefaultBanBackoff
	}
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	}
	until := c.cfg.Now().Add(d)
	c.mu.Lock()
	if until.After(c.backoffTo) {
		c.backoffTo = until
	}
	until = c.backoffTo
	c.mu.Unlock()
	if m := c.cfg.Metrics; m != nil {
		m.rateLimited.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
		m.backoffUntil.Set(float64(until.Unix()))
	}
	c.cfg.Log.Warn("binance: rate limited, backing off", "status", resp.StatusCode, "code", ae.Code, "retry_after", d, "until", until)
	return &RateLimited{Status: resp.StatusCode, Code: ae.Code, Until: until}
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

// sentIDs remembers the last n client order ids sent, oldest forgotten first.
type sentIDs struct {
	set  map[string]bool
	ring []string
	next int
}

func newSentIDs(n int) sentIDs { return sentIDs{set: map[string]bool{}, ring: make([]string, n)} }

func (s *sentIDs) add(id string) {
	if s.set[id] {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.set[id] = true
}

// sign is kept here so that every use of the secret is in two places:
// sign and Credentials.
func (k Credentials) sign(payload string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}
