// Package binance is the exchange.Venue of Binance USD-M perpetual
// futures: a thin REST client of our own over net/http and crypto/hmac.
//
// # Why our own client
//
// github.com/adshao/go-binance/v2 (the usual Go client, which would have
// to be pinned at v2.8.11) was weighed and not taken:
//
//   - the adapter needs a dozen REST endpoints; the library brings the whole
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
// # The day's PnL
//
// DayPnL (pnl.go) answers the apply layer's daily loss stop: the income
// history since 00:00 UTC that counts as trading (realized PnL,
// commission, funding, liquidation and settlement) plus the positions'
// unrealized PnL, exact in decimal, cached for Config.PnLTTL; any doubt
// is an error, never a partial figure.
//
// The API secret and key never appear in errors or logs: Credentials
// formats as "[redacted]", and transport errors are rebuilt from the
// method and path only (net/http's own would repeat the signed URL).
package binance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
	// PnLTTL: DayPnL reuses its figure this long (default DefaultPnLTTL),
	// so that a busy batch of entries does not spend the weight limit on it.
	PnLTTL time.Duration
	// IncomePageSize is the rows asked per GET /fapi/v1/income (default
	// and at most 1000); IncomeMaxPages bounds the pages of one DayPnL
	// (default DefaultIncomeMaxPages): beyond them DayPnL fails.
	IncomePageSize int
	IncomeMaxPages int
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

	pnl pnlCache // DayPnL's last figure (pnl.go)
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
	if cfg.PnLTTL <= 0 {
		cfg.PnLTTL = DefaultPnLTTL
	}
	if cfg.IncomePageSize <= 0 || cfg.IncomePageSize > maxIncomePage {
		cfg.IncomePageSize = maxIncomePage
	}
	if cfg.IncomeMaxPages <= 0 {
		cfg.IncomeMaxPages = DefaultIncomeMaxPages
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
	return &Client{cfg: cfg, base: u, http: hc, marks: map[string]markEntry{}, sent: newSentIDs(4096), pnl: newPnLCache()}, nil
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
