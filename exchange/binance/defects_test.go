package binance_test

// One test per defect of issue 12 ("The Binance adapter keeps its promises
// against the real API's documented behaviour"), each written before the
// fix and seen failing against the adapter as it was.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/market"
)

// Defect 1 (adapter side): a MARKET order the book cannot fill answers
// EXPIRED with nothing filled, or EXPIRED with a part filled, and the
// adapter says so: a final status, and the filled quantity as the venue
// wrote it. (The apply-layer side is TestApplyLayerFinalStates.)
func TestDefect01ExpiredAndPartialFills(t *testing.T) {
	r := newRig(t, nil)
	r.fake.SetPosition("BTCUSDT", "0.05")
	r.fake.SetLiquidity("BTCUSDT", "0")
	st := r.place(marketOrder("qt-exp-1", "BTCUSDT", market.Sell, "0.02", true))
	if st.Status != exchange.StatusExpired || st.FilledQty != "0" || !st.Status.Final() || st.Filled() {
		t.Fatalf("unfilled MARKET: %+v, want EXPIRED, final, nothing filled", st)
	}
	r.fake.SetLiquidity("BTCUSDT", "0.015")
	st = r.place(marketOrder("qt-exp-2", "BTCUSDT", market.Sell, "0.02", true))
	if st.Status != exchange.StatusExpired || st.FilledQty != "0.015" || !st.Filled() {
		t.Fatalf("partly filled MARKET: %+v, want EXPIRED with 0.015 filled", st)
	}
	if got := r.fake.Position("BTCUSDT"); got != "0.035" {
		t.Fatalf("position %s, want 0.035", got)
	}
	for _, s := range []exchange.Status{exchange.StatusNew, exchange.StatusPartiallyFilled} {
		if s.Final() {
			t.Fatalf("%s is final", s)
		}
	}
	for _, s := range []exchange.Status{exchange.StatusFilled, exchange.StatusCanceled, exchange.StatusRejected, exchange.StatusExpired, exchange.StatusExpiredInMatch} {
		if !s.Final() {
			t.Fatalf("%s is not final", s)
		}
	}
}

// Defect 2: an id sent before whose outcome was unknown, looked up again
// while the venue answers 429: that is still an unknown outcome, never
// "unavailable" (which the apply layer finishes as a final FAILED).
func TestDefect02LookupFailureAfterUnknownStaysUnknown(t *testing.T) {
	r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) { cfg.Timeout = 200 * time.Millisecond })
	ctx := context.Background()
	o := marketOrder("qt-unk-429", "BTCUSDT", market.Buy, "0.01", false)
	r.fake.Inject("/fapi/v1/order", binancefake.Fault{Delay: time.Minute, Execute: true},
		binancefake.Fault{Status: 429, Code: -1003, Msg: "Too many requests.", RetryAfter: "0"})
	if _, err := r.c.PlaceOrder(ctx, o); !errors.Is(err, exchange.ErrUnknownOutcome) {
		t.Fatalf("first attempt: %v, want ErrUnknownOutcome", err)
	}
	_, err := r.c.PlaceOrder(ctx, o)
	if !errors.Is(err, exchange.ErrUnknownOutcome) || errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("retry while the look-up is rate limited: %v, want ErrUnknownOutcome only", err)
	}
	if n := len(r.fake.Orders()); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

// Defect 3: HTTP 408 without a venue code (the docs: the backend timed
// out) may have executed: an unknown outcome for an order.
func TestDefect03Bare408IsUnknown(t *testing.T) {
	r := newRig(t, nil)
	r.fake.Inject("/fapi/v1/order", binancefake.Fault{Status: 408, Execute: true})
	_, err := r.c.PlaceOrder(context.Background(), marketOrder("qt-408", "BTCUSDT", market.Buy, "0.01", false))
	if !errors.Is(err, exchange.ErrUnknownOutcome) || errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("bare 408: %v, want ErrUnknownOutcome", err)
	}
}

// Defect 4: a first attempt that timed out and surfaces late at the venue
// (its backend processes it after the look-up said "no such order") must
// not be joined by a re-send: the adapter re-sends only once the first
// attempt can no longer execute (its timestamp is older than recvWindow),
// and then finds it. Runs 20 trials.
func TestDefect04NoResendWhileEarlierAttemptUnsettled(t *testing.T) {
	for trial := range 20 {
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			t.Parallel()
			defect04Trial(t, trial)
		})
	}
}

func defect04Trial(t *testing.T, trial int) {
	{
		r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) {
			cfg.Timeout = 100 * time.Millisecond
			cfg.RecvWindow = 400 * time.Millisecond
			cfg.SettleMargin = 100 * time.Millisecond
		})
		ctx := context.Background()
		o := marketOrder(fmt.Sprintf("qt-late-%d", trial), "BTCUSDT", market.Buy, "0.01", false)
		r.fake.Inject("/fapi/v1/order", binancefake.Fault{Delay: time.Minute, ExecuteAfter: 250 * time.Millisecond})
		if _, err := r.c.PlaceOrder(ctx, o); !errors.Is(err, exchange.ErrUnknownOutcome) {
			t.Fatalf("trial %d: first attempt: %v, want ErrUnknownOutcome", trial, err)
		}
		// Not yet at the venue: the retry must wait, not send.
		if _, err := r.c.PlaceOrder(ctx, o); !errors.Is(err, exchange.ErrUnknownOutcome) {
			t.Fatalf("trial %d: retry before the first attempt settled: %v, want ErrUnknownOutcome", trial, err)
		}
		time.Sleep(700 * time.Millisecond)
		st, err := r.c.PlaceOrder(ctx, o)
		if err != nil || st.Status != exchange.StatusFilled {
			t.Fatalf("trial %d: retry after settling: %+v %v", trial, st, err)
		}
		if n := len(r.fake.Orders()); n != 1 {
			t.Fatalf("trial %d: %d orders at the venue, want 1", trial, n)
		}
	}
}

// Defect 5: a client-side limiter keeps the adapter under the venue's
// limits (here 40 weight and 10 orders a second, read from exchangeInfo):
// a burst never meets a 429.
func TestDefect05LimiterKeepsUnderTheVenueLimits(t *testing.T) {
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) {
		f.SetRateLimits(binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "SECOND", IntervalNum: 1, Limit: 40},
			binancefake.RateLimit{Type: "ORDERS", Interval: "SECOND", IntervalNum: 1, Limit: 10})
	})
	ctx := context.Background()
	for i := range 30 {
		if _, err := r.c.Position(ctx, "BTCUSDT"); err != nil && !errors.Is(err, exchange.ErrUnavailable) {
			t.Fatal(err)
		}
		if _, err := r.c.PlaceOrder(ctx, marketOrder(fmt.Sprintf("qt-rl-%d", i), "BTCUSDT", market.Buy, "0.002", false)); err != nil && !errors.Is(err, exchange.ErrUnavailable) {
			t.Fatal(err)
		}
	}
	if st := r.fake.RateStats(); st.Limited != 0 || st.Banned != 0 || st.MaxWeight > 40 {
		t.Fatalf("venue saw %+v: the adapter went beyond its limits", st)
	}
}

// Defect 7: an empty base URL never means live.
func TestDefect07EmptyBaseURLRefused(t *testing.T) {
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	if _, err := binance.New(binance.Config{Credentials: creds}); err == nil {
		t.Fatal("an empty base URL was accepted (it meant live)")
	}
}

// Defect 8: pre-send refusals carry the docs' codes: -4004 below the
// minimum quantity, -4013 below the minimum price, -4002 above the maximum.
func TestDefect08RefusalCodes(t *testing.T) {
	narrow := binancefake.Symbol{Name: "NARROWUSDT", Mark: "100", Step: "0.1", MinQty: "0.5", MaxQty: "1000", Tick: "0.01",
		MinPrice: "90", MaxPrice: "110", MinNotional: "5", Up: "1.5", Down: "0.5"}
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetSymbol(narrow) })
	ctx := context.Background()
	_, err := r.c.PlaceOrder(ctx, marketOrder("qt-c1", "NARROWUSDT", market.Buy, "0.4", false))
	wantRejected(t, err, -4004, false)
	_, err = r.c.PlaceOrder(ctx, limitOrder("qt-c2", "NARROWUSDT", market.Buy, "1", "80"))
	wantRejected(t, err, -4013, false)
	_, err = r.c.PlaceOrder(ctx, limitOrder("qt-c3", "NARROWUSDT", market.Sell, "1", "120"))
	wantRejected(t, err, -4002, false)
	if n := len(r.fake.Orders()); n != 0 {
		t.Fatalf("%d orders sent", n)
	}
}

// Defect 9: the step counts from minQty and the tick from minPrice, as the
// docs define them: with minQty 0.005 and step 0.01, 0.015 is valid and
// 0.019 rounds down to 0.015; with minPrice 0.05 and tick 0.1, 100.05 is
// valid.
func TestDefect09StepAndTickAnchored(t *testing.T) {
	odd := binancefake.Symbol{Name: "ODDUSDT", Mark: "100", Step: "0.01", MinQty: "0.005", MaxQty: "1000", Tick: "0.1",
		MinPrice: "0.05", MinNotional: "1", Up: "1.5", Down: "0.5"}
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetSymbol(odd) })
	if st := r.place(marketOrder("qt-a1", "ODDUSDT", market.Buy, "0.019", false)); st.FilledQty != "0.015" {
		t.Fatalf("0.019 filled %s, want 0.015", st.FilledQty)
	}
	if st := r.place(limitOrder("qt-a2", "ODDUSDT", market.Buy, "0.015", "100.05")); st.Status != exchange.StatusFilled {
		t.Fatalf("limit at 100.05: %+v", st)
	}
	_, err := r.c.PlaceOrder(context.Background(), limitOrder("qt-a3", "ODDUSDT", market.Buy, "0.015", "100.1"))
	wantRejected(t, err, binance.CodeTickSize, false)
}

// Defect 10: an answer for another client order id or symbol is not taken
// as ours: the outcome is unknown and is reconciled.
func TestDefect10AnswerCheckedAgainstRequest(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	other := `{"orderId":99,"clientOrderId":"someone-else","symbol":"BTCUSDT","side":"BUY","status":"FILLED","executedQty":"0.01","avgPrice":"65000"}`
	r.fake.Inject("/fapi/v1/order", binancefake.Fault{Status: 200, Body: other, Execute: true})
	_, err := r.c.PlaceOrder(ctx, marketOrder("qt-mine", "BTCUSDT", market.Buy, "0.01", false))
	if !errors.Is(err, exchange.ErrUnknownOutcome) {
		t.Fatalf("answer for another id: %v, want ErrUnknownOutcome", err)
	}
	wrongSym := strings.Replace(other, `"someone-else"`, `"qt-mine2"`, 1)
	wrongSym = strings.Replace(wrongSym, "BTCUSDT", "ETHUSDT", 1)
	r.fake.Inject("/fapi/v1/order", binancefake.Fault{Status: 200, Body: wrongSym, Execute: true})
	_, err = r.c.PlaceOrder(ctx, marketOrder("qt-mine2", "BTCUSDT", market.Buy, "0.01", false))
	if !errors.Is(err, exchange.ErrUnknownOutcome) {
		t.Fatalf("answer for another symbol: %v, want ErrUnknownOutcome", err)
	}
	r.fake.Inject("/fapi/v1/order", binancefake.Fault{Status: 200, Body: other})
	if _, _, err := r.c.LookupOrder(ctx, "BTCUSDT", "qt-mine"); err == nil {
		t.Fatal("a look-up answered with another id was taken")
	}
}

// Defect 12: a MARKET_LOT_SIZE step of 0 falls back to LOT_SIZE instead of
// making the symbol untradeable.
func TestDefect12MarketLotStepZero(t *testing.T) {
	zero := binancefake.Symbol{Name: "ZEROUSDT", Mark: "10", Step: "0.1", MarketStep: "0", MinQty: "0.1", MaxQty: "1000", Tick: "0.001", MinNotional: "5", Up: "1.1", Down: "0.9"}
	r := newRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetSymbol(zero) })
	if err := r.c.CheckSymbol(context.Background(), "ZEROUSDT"); err != nil {
		t.Fatalf("check: %v", err)
	}
	if st := r.place(marketOrder("qt-z1", "ZEROUSDT", market.Buy, "1.07", false)); st.FilledQty != "1" {
		t.Fatalf("filled %s, want 1 (LOT_SIZE step 0.1)", st.FilledQty)
	}
}

// Defect 11 (adapter side): the environments are told apart by host and
// selectable by name; only Binance's live host is live.
func TestEnvironments(t *testing.T) {
	cases := []struct {
		in   string
		url  string
		want binance.Environment
	}{
		{"testnet", binance.TestnetURL, binance.EnvTestnet},
		{"demo", binance.DemoURL, binance.EnvDemo},
		{"LIVE", binance.LiveURL, binance.EnvLive},
		{"https://fapi.binance.com/", "https://fapi.binance.com/", binance.EnvLive},
		{"https://demo-fapi.binance.com", binance.DemoURL, binance.EnvDemo},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", binance.EnvOther},
		{"", "", binance.EnvOther},
	}
	for _, tc := range cases {
		u := binance.ResolveURL(tc.in)
		if u != tc.url || binance.EnvironmentOf(u) != tc.want {
			t.Errorf("%q: %q %s, want %q %s", tc.in, u, binance.EnvironmentOf(u), tc.url, tc.want)
		}
	}
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	c, err := binance.New(binance.Config{BaseURL: binance.DemoURL, Credentials: creds})
	if err != nil || c.Environment() != binance.EnvDemo {
		t.Fatalf("demo client: %v", err)
	}
}
