package binance_test

// The daily loss stop on the Binance venue (issue 15), through the apply
// layer on real Redis with the adapter on the fake over HTTP.

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
)

const pnlTTL = 20 * time.Millisecond // short, so that a moved mark is seen at once

func lossPolicy(p *policy.Policy) { p.MaxDailyLossUSDT = 100 }

// want checks a result's decision and reason.
func (a *applyRig) want(id, decision, code string) map[string]string {
	a.t.Helper()
	res := a.result(id, 10*time.Second)
	if res["decision"] != decision || res["reason"] != code {
		a.t.Fatalf("%s %s %s %s: %s %s, want %s %s\n%v\nlogs:\n%s", res["source"], res["side"], res["qty"], res["symbol"],
			res["decision"], res["reason"], decision, code, res, a.logs.String())
	}
	return res
}

// TestDailyLossStopOnBinance is the Must-show on the Binance venue:
// two apply-layer replicas, each with its own adapter on one fake that
// charges 0.04% commission, under max_daily_loss_usdt 100. An entry passes
// while the day's PnL (commission included) is above the limit; the fake's
// mark moves the BTCUSDT long to a loss beyond it; from then on every
// entry, on either replica, is denied DAILY_LOSS_LIMIT_REACHED; the
// exitbrain_v3_5 close executes (and realizes the loss at the venue, which
// keeps the stop on); DAILY_LOSS_LIMIT is in the alert stream exactly once.
func TestDailyLossStopOnBinance(t *testing.T) {
	var reads [2]atomic.Int64 // income requests by replica
	a := newApplyRigPolicy(t, func(cfg *binance.Config, f *binancefake.Fake) {
		cfg.PnLTTL = pnlTTL
		cfg.HTTPClient = countIncome(&reads[0])
		f.SetCommission("0.0004")
	}, lossPolicy)
	cfg2 := a.cfg
	cfg2.HTTPClient = countIncome(&reads[1])
	second, err := binance.Open(context.Background(), cfg2)
	if err != nil {
		t.Fatal(err)
	}
	a.startReplica("e2e-2", second)
	entry := func(symbol, qty string) string {
		return a.send("intent_bridge", "BUY", "MARKET", qty, false, map[string]string{"symbol": symbol})
	}
	a.want(entry("BTCUSDT", "0.05"), "EXECUTED", "") // commission -1.30
	a.fake.SetMark("BTCUSDT", "63200")               // unrealized -90: the day's PnL -91.30
	time.Sleep(3 * pnlTTL)
	a.want(entry("ETHUSDT", "0.1"), "EXECUTED", "") // commission -0.12: -91.42
	a.fake.SetMark("BTCUSDT", "63000")              // unrealized -100: -101.42
	time.Sleep(3 * pnlTTL)
	for range 4 { // both replicas, BTCUSDT and ETHUSDT
		res := a.want(entry("BTCUSDT", "0.01"), "DENIED", "DAILY_LOSS_LIMIT_REACHED")
		if !strings.Contains(res["detail"], "101.42") {
			t.Fatalf("detail %q, want the day's loss 101.42", res["detail"])
		}
		a.want(entry("ETHUSDT", "0.1"), "DENIED", "DAILY_LOSS_LIMIT_REACHED")
	}
	a.want(a.send("exitbrain_v3_5", "SELL", "MARKET", "0.05", true, nil), "EXECUTED", "")
	if got := a.fake.Position("BTCUSDT"); got != "0" {
		t.Fatalf("BTCUSDT position %s after the owner's close, want 0", got)
	}
	if got := a.fake.Realized("BTCUSDT"); got != "-100" {
		t.Fatalf("realized at the venue %s, want -100", got)
	}
	time.Sleep(3 * pnlTTL)
	a.want(entry("ETHUSDT", "0.1"), "DENIED", "DAILY_LOSS_LIMIT_REACHED") // realized now, and the close's commission
	alerts := 0
	for _, e := range redistest.StreamEntries(t, a.env.Client, a.env.Keys.Alerts()) {
		if e["alert_type"] == "DAILY_LOSS_LIMIT" {
			alerts++
			if e["status"] != "firing" || e["day"] != time.Now().UTC().Format(time.DateOnly) || e["account"] != a.env.Keys.Prefix() {
				t.Errorf("alert %v", e)
			}
		}
	}
	if alerts != 1 {
		t.Fatalf("%d DAILY_LOSS_LIMIT alerts after 9 denials, want 1", alerts)
	}
	if reads[0].Load() == 0 || reads[1].Load() == 0 {
		t.Fatalf("income read by the replicas %d and %d times: both should have decided entries", reads[0].Load(), reads[1].Load())
	}
}

// countIncome is an HTTP client counting its GET /fapi/v1/income requests.
func countIncome(n *atomic.Int64) *http.Client {
	next := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/fapi/v1/income" {
			n.Add(1)
		}
		return next.RoundTrip(r)
	})}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIncomeOutageDeniesEntries: the income endpoint fails once (HTTP
// 503): the entry decided then is denied EXCHANGE_UNAVAILABLE (the loss
// stop cannot be checked, so it fails closed), the owner's close executes
// meanwhile (exits never read the PnL), and the next entry, with the
// endpoint back, executes.
func TestIncomeOutageDeniesEntries(t *testing.T) {
	a := newApplyRigPolicy(t, func(cfg *binance.Config, f *binancefake.Fake) {
		cfg.PnLTTL = pnlTTL
		f.SetPosition("BTCUSDT", "0.05")
	}, lossPolicy)
	a.fake.Inject("/fapi/v1/income", binancefake.Fault{Status: 503, Body: "Service Unavailable"})
	res := a.want(a.send("intent_bridge", "BUY", "MARKET", "0.01", false, nil), "DENIED", "EXCHANGE_UNAVAILABLE")
	if !strings.Contains(res["detail"], "PnL") {
		t.Fatalf("detail %q, want the PnL named", res["detail"])
	}
	if n := a.fake.Requests("/fapi/v1/income"); n != 1 {
		t.Fatalf("%d income requests, want the one that failed", n)
	}
	a.want(a.send("exitbrain_v3_5", "SELL", "MARKET", "0.05", true, nil), "EXECUTED", "")
	if got := a.fake.Position("BTCUSDT"); got != "0" {
		t.Fatalf("position %s after the owner's close, want 0", got)
	}
	if n := a.fake.Requests("/fapi/v1/income"); n != 1 {
		t.Fatalf("the owner's close read the income (%d requests): exits must not depend on it", n)
	}
	a.want(a.send("intent_bridge", "BUY", "MARKET", "0.01", false, nil), "EXECUTED", "")
}
