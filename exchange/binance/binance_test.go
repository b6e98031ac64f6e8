package binance_test

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
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/market"
)

const (
	apiKey    = "fake-api-key-Zq8vN2"
	apiSecret = "fake-api-secret-Wm4kT9xR7pL3"
)

// rig is an adapter opened on a fresh fake.
type rig struct {
	t       *testing.T
	fake    *binancefake.Fake
	c       *binance.Client
	cfg     binance.Config
	logs    *testkit.Buffer
	metrics *binance.Metrics
	reg     *prometheus.Registry
}

func newRig(t *testing.T, mod func(cfg *binance.Config, f *binancefake.Fake)) *rig {
	t.Helper()
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC, binancefake.ETH, binancefake.DOGE)
	t.Cleanup(f.Close)
	creds, err := binance.NewCredentials(apiKey, apiSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, fake: f, logs: &testkit.Buffer{}, reg: prometheus.NewRegistry()}
	r.metrics = binance.NewMetrics(r.reg)
	r.cfg = binance.Config{BaseURL: f.URL(), Credentials: creds, Timeout: 5 * time.Second,
		Log: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Metrics: r.metrics}
	if mod != nil {
		mod(&r.cfg, f)
	}
	r.c, err = binance.Open(context.Background(), r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func marketOrder(coid, symbol string, side market.Side, qty string, reduce bool) exchange.Order {
	return exchange.Order{ClientOrderID: coid, Symbol: symbol, Side: side, Type: market.Market, Qty: qty, ReduceOnly: reduce}
}

func limitOrder(coid, symbol string, side market.Side, qty, price string) exchange.Order {
	return exchange.Order{ClientOrderID: coid, Symbol: symbol, Side: side, Type: market.Limit, Qty: qty, Price: price}
}

func (r *rig) place(o exchange.Order) exchange.OrderState {
	r.t.Helper()
	st, err := r.c.PlaceOrder(context.Background(), o)
	if err != nil {
		r.t.Fatalf("place %s: %v", o.ClientOrderID, err)
	}
	return st
}

func wantRejected(t *testing.T, err error, code int, sent bool) *exchange.Rejected {
	t.Helper()
	var rej *exchange.Rejected
	if !errors.As(err, &rej) || rej.Code != code {
		t.Fatalf("error %v, want *exchange.Rejected with code %d", err, code)
	}
	if strings.HasPrefix(rej.Msg, "not sent:") == sent {
		t.Fatalf("rejection %q: want sent=%v", rej.Msg, sent)
	}
	return rej
}

// TestOpenSignsAndChecks: Open measures the time offset, checks the
// position mode and loads the filters through signed requests the fake
// verifies; a wrong secret is refused by the venue (-1022).
func TestOpenSignsAndChecks(t *testing.T) {
	r := newRig(t, nil)
	for _, p := range []string{"/fapi/v1/time", "/fapi/v1/positionSide/dual", "/fapi/v1/exchangeInfo"} {
		if r.fake.Requests(p) != 1 {
			t.Fatalf("%s: %d requests at Open, want 1", p, r.fake.Requests(p))
		}
	}
	bad := r.cfg
	bad.Credentials, _ = binance.NewCredentials(apiKey, "another-secret")
	_, err := binance.Open(context.Background(), bad)
	wantRejected(t, err, binance.CodeInvalidSignature, true)
	bad.Credentials, _ = binance.NewCredentials("another-key", apiSecret)
	_, err = binance.Open(context.Background(), bad)
	wantRejected(t, err, -2015, true)
}

// TestOpenRefusesHedgeMode: an account in hedge mode is refused with a
// clear error.
func TestOpenRefusesHedgeMode(t *testing.T) {
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	defer f.Close()
	f.SetHedgeMode(true)
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	_, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds})
	if !errors.Is(err, binance.ErrHedgeMode) || !strings.Contains(err.Error(), "one-way") {
		t.Fatalf("Open in hedge mode: %v, want ErrHedgeMode", err)
	}
}

// TestServerTimeOffset: a venue clock 30s ahead (beyond recvWindow) is
// measured at Open; when it jumps again the -1021 answer re-measures the
// offset and the request goes through once more.
func TestServerTimeOffset(t *testing.T) {
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetClock(time.Now, 30*time.Second) })
	r.place(marketOrder("skew-1", "BTCUSDT", market.Buy, "0.002", false))
	r.fake.SetClock(time.Now, -45*time.Second)
	r.place(marketOrder("skew-2", "BTCUSDT", market.Buy, "0.002", false))
	if n := r.fake.Requests("/fapi/v1/time"); n != 2 {
		t.Fatalf("%d time requests, want 2 (Open, then after -1021)", n)
	}
	if n := len(r.fake.Orders()); n != 2 {
		t.Fatalf("%d orders, want 2", n)
	}
	off, err := r.c.SyncTime(context.Background())
	if err != nil || off > -40*time.Second || off < -50*time.Second {
		t.Fatalf("offset %v (%v), want about -45s", off, err)
	}
}

// TestPlaceMarketOrder: the order reaches the venue with the plan's client
// order id, positionSide=BOTH and reduceOnly, and fills.
func TestPlaceMarketOrder(t *testing.T) {
	r := newRig(t, nil)
	st := r.place(marketOrder("qt-m1", "BTCUSDT", market.Buy, "0.01", false))
	if st.ClientOrderID != "qt-m1" || st.Status != exchange.StatusFilled || st.FilledQty != "0.01" || st.AvgPrice != "65000" || st.ExchangeOrderID == "" {
		t.Fatalf("state %+v", st)
	}
	st = r.place(marketOrder("qt-m2", "BTCUSDT", market.Sell, "0.004", true))
	if st.FilledQty != "0.004" {
		t.Fatalf("reduce-only state %+v", st)
	}
	if got := r.fake.Position("BTCUSDT"); got != "0.006" {
		t.Fatalf("position %s, want 0.006", got)
	}
	sent := strings.Join(r.fake.Seen(), "\n")
	for _, want := range []string{"newClientOrderId=qt-m1", "positionSide=BOTH", "reduceOnly=true", "reduceOnly=false", "recvWindow=5000"} {
		if !strings.Contains(sent, want) {
			t.Fatalf("no %q in the requests:\n%s", want, sent)
		}
	}
}

// TestPlaceLimitOrder: a LIMIT away from the mark rests NEW; a marketable
// one fills at the mark.
func TestPlaceLimitOrder(t *testing.T) {
	r := newRig(t, nil)
	if st := r.place(limitOrder("qt-l1", "ETHUSDT", market.Buy, "0.1", "2900.50")); st.Status != exchange.StatusNew || st.FilledQty != "0" {
		t.Fatalf("resting limit %+v", st)
	}
	if st := r.place(limitOrder("qt-l2", "ETHUSDT", market.Buy, "0.1", "3100")); st.Status != exchange.StatusFilled || st.AvgPrice != "3000" {
		t.Fatalf("marketable limit %+v", st)
	}
}

// TestQuantityRoundedDownToStep: exact decimal rounding, no float drift
// (0.3 / 0.1 is 2.9999999999999996 in float64).
func TestQuantityRoundedDownToStep(t *testing.T) {
	tenth := binancefake.Symbol{Name: "TENTHUSDT", Mark: "100", Step: "0.1", MinQty: "0.1", MaxQty: "1000", Tick: "0.01", MinNotional: "5", Up: "1.05", Down: "0.95"}
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetSymbol(tenth) })
	cases := []struct{ symbol, qty, want string }{
		{"TENTHUSDT", "0.3", "0.3"},
		{"TENTHUSDT", "0.39999", "0.3"},
		{"BTCUSDT", "0.0029", "0.002"},
		{"DOGEUSDT", "99.9999999", "99"},
		{"DOGEUSDT", "1e2", "100"},
	}
	for i, tc := range cases {
		st := r.place(marketOrder(fmt.Sprintf("qt-step-%d", i), tc.symbol, market.Buy, tc.qty, false))
		if st.FilledQty != tc.want {
			t.Errorf("%s %s: filled %s, want %s", tc.symbol, tc.qty, st.FilledQty, tc.want)
		}
	}
	if !strings.Contains(r.logs.String(), "rounded down") {
		t.Fatalf("no log of the rounding:\n%s", r.logs.String())
	}
}

// TestFiltersRefuseBeforeSending: below the minimum quantity or notional,
// off the tick, outside the collar: refused with the venue's code and
// never sent. Reduce-only orders are exempt from MIN_NOTIONAL.
func TestFiltersRefuseBeforeSending(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	cases := []struct {
		name string
		o    exchange.Order
		code int
	}{
		{"below min notional", marketOrder("qt-f1", "BTCUSDT", market.Buy, "0.001", false), binance.CodeMinNotional},
		{"limit below min notional", limitOrder("qt-f2", "ETHUSDT", market.Buy, "0.005", "3000"), binance.CodeMinNotional},
		{"below min qty after rounding", marketOrder("qt-f3", "BTCUSDT", market.Buy, "0.0009", false), binance.CodeQtyTooSmall},
		{"above the collar", limitOrder("qt-f4", "BTCUSDT", market.Buy, "0.01", "68250.10"), binance.CodePriceAboveCollar},
		{"below the collar", limitOrder("qt-f5", "BTCUSDT", market.Sell, "0.01", "61749.90"), binance.CodePriceBelowCollar},
		{"off the tick", limitOrder("qt-f6", "BTCUSDT", market.Buy, "0.01", "65000.05"), binance.CodeTickSize},
		{"unknown symbol", marketOrder("qt-f7", "NOPEUSDT", market.Buy, "1", false), exchange.CodeInvalidSymbol},
		{"malformed quantity", marketOrder("qt-f8", "BTCUSDT", market.Buy, "1/3", false), exchange.CodeBadParameter},
		{"bad client order id", marketOrder("qt f9", "BTCUSDT", market.Buy, "0.01", false), binance.CodeInvalidClientOrder},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.c.PlaceOrder(ctx, tc.o)
			wantRejected(t, err, tc.code, false)
		})
	}
	if n := r.fake.Requests("/fapi/v1/order"); n != 0 {
		t.Fatalf("%d order requests reached the venue, want 0", n)
	}
	// At the collar's edge and with reduceOnly below min notional: sent.
	r.place(limitOrder("qt-f10", "BTCUSDT", market.Buy, "0.01", "68250"))
	r.fake.SetPosition("BTCUSDT", "0.005")
	if st := r.place(marketOrder("qt-f11", "BTCUSDT", market.Sell, "0.001", true)); st.Status != exchange.StatusFilled {
		t.Fatalf("reduce-only below min notional: %+v", st)
	}
}

// TestReduceOnlyRejected: -2022 comes back as *exchange.Rejected with the
// venue's code, after the order was sent.
func TestReduceOnlyRejected(t *testing.T) {
	r := newRig(t, nil)
	_, err := r.c.PlaceOrder(context.Background(), marketOrder("qt-r1", "BTCUSDT", market.Sell, "0.01", true))
	rej := wantRejected(t, err, exchange.CodeReduceOnlyRejected, true)
	if rej.Msg != "ReduceOnly Order is rejected." {
		t.Fatalf("message %q", rej.Msg)
	}
	if len(r.fake.Orders()) != 0 {
		t.Fatal("a rejected order is held")
	}
}

// TestDuplicateClientOrderID: -4116 (another process placed the id and the
// order rests) is looked up and returned as already submitted.
func TestDuplicateClientOrderID(t *testing.T) {
	r := newRig(t, nil)
	first := r.place(limitOrder("qt-d1", "ETHUSDT", market.Buy, "0.1", "2900"))
	other, err := binance.Open(context.Background(), r.cfg) // remembers nothing
	if err != nil {
		t.Fatal(err)
	}
	st, err := other.PlaceOrder(context.Background(), limitOrder("qt-d1", "ETHUSDT", market.Buy, "0.1", "2900"))
	if err != nil {
		t.Fatal(err)
	}
	if st.ExchangeOrderID != first.ExchangeOrderID || len(r.fake.Orders()) != 1 {
		t.Fatalf("got %+v and %d orders, want the first order %s alone", st, len(r.fake.Orders()), first.ExchangeOrderID)
	}
	if !strings.Contains(r.logs.String(), "already held") {
		t.Fatal("no log line for the -4116")
	}
}

// TestPlaceAgainLooksUp: Binance accepts a filled order's id again, so a
// second PlaceOrder with an id this client sent is looked up, not sent.
func TestPlaceAgainLooksUp(t *testing.T) {
	r := newRig(t, nil)
	first := r.place(marketOrder("qt-a1", "BTCUSDT", market.Buy, "0.01", false))
	again := r.place(marketOrder("qt-a1", "BTCUSDT", market.Buy, "0.01", false))
	if again != first || len(r.fake.Orders()) != 1 || r.fake.Position("BTCUSDT") != "0.01" {
		t.Fatalf("again %+v, first %+v, %d orders, position %s", again, first, len(r.fake.Orders()), r.fake.Position("BTCUSDT"))
	}
}

// TestUnknownOutcome: -1007 after executing, -1007 without, a 5xx and a
// timeout are exchange.ErrUnknownOutcome; the lookup by client order id
// tells what happened.
func TestUnknownOutcome(t *testing.T) {
	cases := []struct {
		name     string
		fault    binancefake.Fault
		executed bool
	}{
		{"-1007 after executing", binancefake.Fault{Status: 408, Code: binance.CodeTimeout, Msg: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.", Execute: true}, true},
		{"-1007 not executed", binancefake.Fault{Status: 408, Code: binance.CodeTimeout, Msg: "Timeout waiting for response from backend server."}, false},
		{"-1006 after executing", binancefake.Fault{Status: 400, Code: binance.CodeUnexpectedResp, Msg: "An unexpected response was received from the message bus.", Execute: true}, true},
		{"502 after executing", binancefake.Fault{Status: 502, Body: "<html>Bad Gateway</html>", Execute: true}, true},
		{"503 not executed", binancefake.Fault{Status: 503, Code: -1001, Msg: "Internal error"}, false},
		{"timeout after executing", binancefake.Fault{Delay: time.Minute, Execute: true}, true},
		{"garbled 200", binancefake.Fault{Status: 200, Body: "{not json", Execute: true}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) {
				cfg.Timeout = 300 * time.Millisecond
				cfg.RecvWindow, cfg.SettleMargin = 200*time.Millisecond, 50*time.Millisecond
			})
			coid := fmt.Sprintf("qt-u%d", i)
			r.fake.Inject("/fapi/v1/order", tc.fault)
			_, err := r.c.PlaceOrder(context.Background(), marketOrder(coid, "BTCUSDT", market.Buy, "0.01", false))
			if !errors.Is(err, exchange.ErrUnknownOutcome) || errors.Is(err, exchange.ErrUnavailable) {
				t.Fatalf("error %v, want only ErrUnknownOutcome", err)
			}
			if !tc.executed {
				// Not found may only mean "not yet": the attempt can still
				// execute until its timestamp + recvWindow.
				if _, _, err := r.c.LookupOrder(context.Background(), "BTCUSDT", coid); !errors.Is(err, exchange.ErrUnknownOutcome) {
					t.Fatalf("lookup before the attempt settled: %v, want ErrUnknownOutcome", err)
				}
				time.Sleep(300 * time.Millisecond)
			}
			st, found, err := r.c.LookupOrder(context.Background(), "BTCUSDT", coid)
			if err != nil || found != tc.executed {
				t.Fatalf("lookup: found=%v err=%v, want found=%v", found, err, tc.executed)
			}
			if found && st.Status != exchange.StatusFilled {
				t.Fatalf("lookup %+v", st)
			}
			// A retry with the same id never makes a second order: it is
			// looked up, and sent only when settled and absent.
			r.place(marketOrder(coid, "BTCUSDT", market.Buy, "0.01", false))
			if n := len(r.fake.Orders()); n != 1 {
				t.Fatalf("%d orders after the retry, want 1", n)
			}
		})
	}
}

// TestReadsFailUnavailable: a 5xx or -1007 on a read is ErrUnavailable,
// never an unknown outcome (nothing to reconcile).
func TestReadsFailUnavailable(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fake.Inject("/fapi/v1/premiumIndex", binancefake.Fault{Status: 500})
	r.fake.Inject("/fapi/v3/positionRisk", binancefake.Fault{Status: 408, Code: binance.CodeTimeout})
	r.fake.Inject("GET /fapi/v1/order", binancefake.Fault{Status: 502})
	_, err1 := r.c.MarkPrice(ctx, "BTCUSDT")
	_, err2 := r.c.Position(ctx, "BTCUSDT")
	for _, err := range []error{err1, err2} {
		if !errors.Is(err, exchange.ErrUnavailable) || errors.Is(err, exchange.ErrUnknownOutcome) {
			t.Fatalf("error %v, want ErrUnavailable only", err)
		}
	}
}

// TestRateLimited: a 429 with Retry-After (and a 418) is ErrUnavailable,
// counted in the metrics, and no request is sent until Retry-After passes.
func TestRateLimited(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	r := newRig(t, func(cfg *binance.Config, f *binancefake.Fake) {
		cfg.Now = clock.Now
		f.SetClock(clock.Now, 0)
	})
	ctx := context.Background()
	r.fake.Inject("/fapi/v1/order", binancefake.Fault{Status: 429, Code: binance.CodeTooManyRequests, Msg: "Too many requests.", RetryAfter: "30"})
	_, err := r.c.PlaceOrder(ctx, marketOrder("qt-rl1", "BTCUSDT", market.Buy, "0.01", false))
	var rl *binance.RateLimited
	if !errors.As(err, &rl) || rl.Status != 429 || !errors.Is(err, exchange.ErrUnavailable) || errors.Is(err, exchange.ErrUnknownOutcome) {
		t.Fatalf("error %v, want a 429 RateLimited that is ErrUnavailable", err)
	}
	if !rl.Until.Equal(clock.Now().Add(30 * time.Second)) {
		t.Fatalf("back-off until %v, want now+30s", rl.Until)
	}
	sent := r.fake.Requests("/fapi/v1/order")
	clock.Advance(29 * time.Second)
	_, err = r.c.PlaceOrder(ctx, marketOrder("qt-rl2", "BTCUSDT", market.Buy, "0.01", false))
	if !errors.As(err, &rl) || rl.Status != 0 || r.fake.Requests("/fapi/v1/order") != sent {
		t.Fatalf("during the back-off: %v, %d requests (want %d): a request was sent", err, r.fake.Requests("/fapi/v1/order"), sent)
	}
	clock.Advance(2 * time.Second)
	r.place(marketOrder("qt-rl3", "BTCUSDT", market.Buy, "0.01", false))

	r.fake.Inject("/fapi/v1/premiumIndex", binancefake.Fault{Status: 418, Code: binance.CodeTooManyRequests, Msg: "banned", RetryAfter: "120"})
	if _, err := r.c.MarkPrice(ctx, "ETHUSDT"); !errors.As(err, &rl) || rl.Status != 418 {
		t.Fatalf("418: %v", err)
	}
	if got := r.rateLimited("429"); got != 1 {
		t.Fatalf("rate limited 429 counted %v, want 1", got)
	}
	if got := r.rateLimited("418"); got != 1 {
		t.Fatalf("rate limited 418 counted %v, want 1", got)
	}
}

// rateLimited reads quantum_binance_rate_limited_total{status}.
func (r *rig) rateLimited(status string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "quantum_binance_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestUnreachable: nothing sent is ErrUnavailable, never unknown.
// (A request written on a pooled connection that the server then closes
// is ambiguous and is ErrUnknownOutcome: hence no keep-alive here.)
func TestUnreachable(t *testing.T) {
	r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	})
	r.fake.Close()
	_, err := r.c.PlaceOrder(context.Background(), marketOrder("qt-x1", "BTCUSDT", market.Sell, "0.01", true))
	if !errors.Is(err, exchange.ErrUnavailable) || errors.Is(err, exchange.ErrUnknownOutcome) {
		t.Fatalf("error %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.c.MarkPrice(ctx, "ETHUSDT"); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// TestLookupPositionMarkLeverage covers the read endpoints and leverage.
func TestLookupPositionMarkLeverage(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	if _, found, err := r.c.LookupOrder(ctx, "BTCUSDT", "qt-none"); found || err != nil {
		t.Fatalf("unknown id: found=%v err=%v", found, err)
	}
	placed := r.place(marketOrder("qt-p1", "ETHUSDT", market.Sell, "0.5", false))
	got, found, err := r.c.LookupOrder(ctx, "ETHUSDT", "qt-p1")
	if err != nil || !found || got != placed {
		t.Fatalf("lookup %+v %v %v, want %+v", got, found, err, placed)
	}
	if pos, err := r.c.Position(ctx, "ETHUSDT"); err != nil || pos != -0.5 {
		t.Fatalf("position %v %v, want -0.5", pos, err)
	}
	if pos, err := r.c.Position(ctx, "BTCUSDT"); err != nil || pos != 0 {
		t.Fatalf("flat position %v %v", pos, err)
	}
	r.fake.SetMark("DOGEUSDT", "0.12345")
	if m, err := r.c.MarkPrice(ctx, "DOGEUSDT"); err != nil || m != 0.12345 {
		t.Fatalf("mark %v %v", m, err)
	}
	if _, err := r.c.MarkPrice(ctx, "NOPEUSDT"); err == nil {
		t.Fatal("a mark price for an unlisted symbol")
	}
	if err := r.c.SetLeverage(ctx, "DOGEUSDT", 20); err != nil || r.fake.Leverage("DOGEUSDT") != 20 {
		t.Fatalf("set leverage: %v, venue has %d", err, r.fake.Leverage("DOGEUSDT"))
	}
	wantRejected(t, r.c.SetLeverage(ctx, "DOGEUSDT", 100), -4028, true) // above the bracket
	wantRejected(t, r.c.SetLeverage(ctx, "DOGEUSDT", 0), -4028, false)
	r.fake.Inject("/fapi/v1/leverage", binancefake.Fault{Status: 503, Execute: true})
	if err := r.c.SetLeverage(ctx, "BTCUSDT", 10); !errors.Is(err, exchange.ErrUnknownOutcome) {
		t.Fatalf("set leverage 503: %v", err)
	}
}

// TestNewListingReloadsFilters: a symbol listed after Open is found by
// re-reading exchangeInfo; a symbol not TRADING is refused.
func TestNewListingReloadsFilters(t *testing.T) {
	r := newRig(t, nil)
	sol := binancefake.Symbol{Name: "SOLUSDT", Mark: "150", Step: "0.01", MinQty: "0.01", MaxQty: "10000", Tick: "0.01", MinNotional: "5", Up: "1.05", Down: "0.95"}
	r.fake.SetSymbol(sol)
	r.place(marketOrder("qt-n1", "SOLUSDT", market.Buy, "1", false))
	sol.Status = "SETTLING"
	sol.Name = "OLDUSDT"
	r.fake.SetSymbol(sol)
	_, err := r.c.PlaceOrder(context.Background(), marketOrder("qt-n2", "OLDUSDT", market.Buy, "1", false))
	wantRejected(t, err, exchange.CodeInvalidSymbol, false)
}

// TestAccountChecks: the go-live reads (permissions, locks, brackets).
func TestAccountChecks(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fake.Lock("ETHUSDT")
	p, err := r.c.Permissions(ctx)
	if err != nil || !p.CanTrade || len(p.Locked) != 1 || p.Locked[0] != "ETHUSDT" {
		t.Fatalf("permissions %+v %v", p, err)
	}
	b, err := r.c.LeverageBrackets(ctx, "DOGEUSDT")
	if err != nil || b[0].InitialLeverage != 75 {
		t.Fatalf("brackets %+v %v", b, err)
	}
	if dual, err := r.c.HedgeMode(ctx); err != nil || dual {
		t.Fatalf("hedge mode %v %v", dual, err)
	}
}

// TestFakeIsStrict: the fake refuses what Binance refuses, so the contract
// tests above mean something.
func TestFakeIsStrict(t *testing.T) {
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	defer f.Close()
	f.SetPosition("BTCUSDT", "0.01")
	now := time.Now().UnixMilli()
	base := "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01&newClientOrderId=s1"
	cases := []struct {
		name   string
		params string
		key    string
		secret string
		code   int
	}{
		{"good", base + "&reduceOnly=true", apiKey, apiSecret, 0},
		{"reduceOnly with closePosition", "symbol=BTCUSDT&side=SELL&type=STOP_MARKET&closePosition=true&reduceOnly=true&stopPrice=60000", apiKey, apiSecret, -1106},
		{"conditional order on the old endpoint", "symbol=BTCUSDT&side=SELL&type=STOP_MARKET&stopPrice=60000&quantity=0.01", apiKey, apiSecret, -4120},
		{"hedge side in one-way mode", base + "2&positionSide=LONG", apiKey, apiSecret, -4061},
		{"bad signature", base + "3", apiKey, "wrong", -1022},
		{"bad key", base + "4", "wrong", apiSecret, -2015},
		{"unknown parameter", base + "5&leverage=5", apiKey, apiSecret, -1104},
		{"no quantity", "symbol=BTCUSDT&side=BUY&type=MARKET", apiKey, apiSecret, -1102},
		{"off the step", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0105", apiKey, apiSecret, -1111},
		{"limit without timeInForce", "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=65000", apiKey, apiSecret, -1102},
		{"below min notional", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001", apiKey, apiSecret, -4164},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.params + "&timestamp=" + strconv.FormatInt(now, 10) + "&recvWindow=5000"
			if code := rawPost(t, f.URL()+"/fapi/v1/order", p, tc.key, tc.secret); code != tc.code {
				t.Fatalf("code %d, want %d", code, tc.code)
			}
		})
	}
	stale := base + "9&timestamp=" + strconv.FormatInt(now-6000, 10) + "&recvWindow=5000"
	if code := rawPost(t, f.URL()+"/fapi/v1/order", stale, apiKey, apiSecret); code != -1021 {
		t.Fatalf("stale timestamp: code %d, want -1021", code)
	}
	noTS := base + "10&recvWindow=5000"
	if code := rawPost(t, f.URL()+"/fapi/v1/order", noTS, apiKey, apiSecret); code != -1102 {
		t.Fatalf("no timestamp: code %d, want -1102", code)
	}
}

// signedParams appends the HMAC-SHA256 signature of params with secret.
func signedParams(params, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(params))
	return params + "&signature=" + hex.EncodeToString(m.Sum(nil))
}

func rawPost(t *testing.T, u, params, key, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(signedParams(params, secret)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, _ := rawDo(t, req, key)
	return code
}

// rawDo sends req with the API key header and returns the answer's venue
// code (0 without one) and body.
func rawDo(t *testing.T, req *http.Request, key string) (int, []byte) {
	t.Helper()
	req.Header.Set("X-MBX-APIKEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		Code int `json:"code"`
	}
	json.Unmarshal(data, &e)
	return e.Code, data
}

// TestSecretsNeverLeak: neither the secret nor the API key appears in logs
// (debug level), error strings or a formatted Config.
func TestSecretsNeverLeak(t *testing.T) {
	r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) { cfg.Timeout = 200 * time.Millisecond })
	ctx := context.Background()
	var errs []string
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	r.fake.Inject("/fapi/v1/order",
		binancefake.Fault{Status: 429, Code: -1003, RetryAfter: "0"},
		binancefake.Fault{Delay: time.Minute, Execute: true},
		binancefake.Fault{Status: 400, Code: -2019, Msg: "Margin is insufficient."})
	for i := range 4 {
		_, err := r.c.PlaceOrder(ctx, marketOrder(fmt.Sprintf("qt-s%d", i), "BTCUSDT", market.Buy, "0.01", false))
		collect(err)
	}
	_, err := r.c.PlaceOrder(ctx, marketOrder("qt-s9", "BTCUSDT", market.Buy, "0.001", false))
	collect(err)
	r.fake.SetClock(time.Now, time.Hour)
	_, _, err = r.c.LookupOrder(ctx, "BTCUSDT", "qt-s1")
	collect(err)
	r.fake.Close()
	_, _, err = r.c.LookupOrder(ctx, "BTCUSDT", "qt-s1")
	collect(err)
	bad := r.cfg
	bad.Credentials, _ = binance.NewCredentials(apiKey, "wrong-secret-value")
	_, err = binance.Open(ctx, bad)
	collect(err)
	if len(errs) < 5 {
		t.Fatalf("only %d errors collected: %q", len(errs), errs)
	}
	formatted := fmt.Sprintf("%v %+v %#v %s", r.cfg, r.cfg, r.cfg.Credentials, r.cfg.Credentials)
	r.cfg.Log.Info("config", "config", r.cfg, "credentials", r.cfg.Credentials)
	all := r.logs.String() + strings.Join(errs, "\n") + formatted
	for _, secret := range []string{apiSecret, apiKey, "wrong-secret-value"} {
		if strings.Contains(all, secret) {
			t.Fatalf("%q leaked:\n%s", secret, all)
		}
	}
	if !strings.Contains(all, "rate limited") || !strings.Contains(all, "[redacted]") {
		t.Fatalf("the logs do not show what the test provoked:\n%s", all)
	}
}

// TestLoadCredentials: from the variables or 0600 files; a readable file,
// an empty one, both sources for one value and a missing value are refused.
func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	keyFile := write("key", apiKey+"\n", 0o600)
	secretFile := write("secret", apiSecret+"\n", 0o600)
	openFile := write("open", apiSecret, 0o644)
	emptyFile := write("empty", "\n", 0o600)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c, err := binance.LoadCredentials(env(map[string]string{binance.EnvAPIKey: apiKey, binance.EnvAPISecretFile: secretFile}), "", "")
	if err != nil || c.APIKey != apiKey {
		t.Fatalf("key from env, secret from file: %v", err)
	}
	if _, err := binance.LoadCredentials(env(nil), keyFile, secretFile); err != nil {
		t.Fatalf("both from files: %v", err)
	}
	bad := []struct {
		name              string
		vars              map[string]string
		keyFile, secretFl string
		want              string
	}{
		{"world-readable secret file", map[string]string{binance.EnvAPIKey: apiKey}, "", openFile, "chmod 600"},
		{"empty secret file", map[string]string{binance.EnvAPIKey: apiKey}, "", emptyFile, "empty"},
		{"both env and file", map[string]string{binance.EnvAPIKey: apiKey, binance.EnvAPISecret: apiSecret}, "", secretFile, "give one"},
		{"no secret", map[string]string{binance.EnvAPIKey: apiKey}, "", "", binance.EnvAPISecret},
		{"no key", map[string]string{binance.EnvAPISecret: apiSecret}, "", "", binance.EnvAPIKey},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := binance.LoadCredentials(env(tc.vars), tc.keyFile, tc.secretFl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), apiSecret) {
				t.Fatalf("the secret is in the error: %v", err)
			}
		})
	}
}
