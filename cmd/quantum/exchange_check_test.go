package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/cli"
)

const (
	fakeKey    = "cmd-fake-key-Hx81"
	fakeSecret = "cmd-fake-secret-Qp27zV"
)

// binanceEnv is an apply env whose commands reach a fake Binance with
// credentials from the environment.
func binanceEnv(t *testing.T, symbols ...binancefake.Symbol) (*applyEnv, *binancefake.Fake) {
	ae := newApplyEnv(t)
	f := binancefake.New(fakeKey, fakeSecret, symbols...)
	t.Cleanup(f.Close)
	ae.env[binance.EnvAPIKey] = fakeKey
	ae.env[binance.EnvAPISecret] = fakeSecret
	ae.env["QUANTUM_BINANCE_URL"] = f.URL()
	return ae, f
}

var sol = binancefake.Symbol{Name: "SOLUSDT", Mark: "150", Step: "0.01", MinQty: "0.01", MaxQty: "10000", Tick: "0.01",
	MinNotional: "5", Up: "1.05", Down: "0.95", MaxLeverage: 50}

// TestExchangeCheck: the go-live checklist passes on a ready account and
// fails, exit 1, on each problem it checks.
func TestExchangeCheck(t *testing.T) {
	ae, f := binanceEnv(t, binancefake.BTC, binancefake.ETH, sol)
	ae.run("exchange", "check", "--pubkey", ae.pub).
		want(t, 0, "PASS  server_time", "PASS  api_key", "PASS  position_mode", "PASS  universe", "PASS  trading_locks",
			"PASS  symbol SOLUSDT", "PASS  leverage BTCUSDT  policy 15x, brackets allow up to 125x")
	ae.run("exchange", "check", "--symbols", "ETHUSDT").want(t, 0, "PASS  leverage ETHUSDT  brackets allow up to 100x")

	// No live policy readable: the universe is a failure, not a guess.
	ae.run("exchange", "check").want(t, 1, "FAIL  universe")

	low := sol
	low.MaxLeverage = 3 // the policy wants 5x
	f.SetSymbol(low)
	f.SetHedgeMode(true)
	f.SetCanTrade(false)
	f.Lock("BTCUSDT")
	r := ae.run("exchange", "check", "--pubkey", ae.pub, "--json")
	r.want(t, 1)
	var out struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	failed := map[string]bool{}
	for _, c := range out.Checks {
		if !c.OK {
			failed[c.Name] = true
		}
	}
	for _, want := range []string{"api_key", "position_mode", "trading_locks", "leverage SOLUSDT"} {
		if !failed[want] {
			t.Errorf("%s did not fail: %s", want, r.stdout)
		}
	}
	if out.OK || failed["leverage BTCUSDT"] || failed["server_time"] {
		t.Errorf("verdicts: %s", r.stdout)
	}

	delete(ae.env, binance.EnvAPISecret)
	ae.run("exchange", "check", "--symbols", "BTCUSDT").want(t, 2, binance.EnvAPISecret)
}

// TestApplyLayerOnBinance: the daemon with --exchange binance executes a
// plan at the (fake) venue; it refuses hedge mode at start; the secret
// never reaches its logs.
func TestApplyLayerOnBinance(t *testing.T) {
	ae, f := binanceEnv(t, binancefake.BTC, sol)
	args := []string{"apply-layer", "--redis", ae.rd.Server.URL(), "--prefix", ae.rd.Keys.Prefix(), "--allow-unsafe-redis",
		"--keyring", ae.keyring, "--pubkey", ae.pub, "--exchange", "binance", "--metrics-addr", "", "--log-format", "json", "--log-level", "debug"}
	getenv := func(k string) string { return ae.env[k] }

	f.SetHedgeMode(true)
	var refused syncBuffer
	if code := cli.Run(context.Background(), args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &refused, Stderr: &refused, Getenv: getenv}); code != cli.ExitUsage ||
		!strings.Contains(refused.String(), "hedge mode") {
		t.Fatalf("hedge mode: exit %d\n%s", code, refused.String())
	}
	f.SetHedgeMode(false)

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs, Getenv: getenv})
	}()
	r := ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "2.019", "--wait", "10s", "--json")
	r.want(t, 0, `"decision": "EXECUTED"`, `"filled_qty": "2.01"`)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("apply-layer exited %d:\n%s", code, logs.String())
	}
	orders := f.Orders()
	if len(orders) != 1 || !strings.HasPrefix(orders[0].ClientOrderID, "qt-") || f.Leverage("SOLUSDT") != 5 {
		t.Fatalf("venue orders %+v, leverage %d", orders, f.Leverage("SOLUSDT"))
	}
	all := logs.String() + refused.String() + r.stdout + r.stderr
	if strings.Contains(all, fakeSecret) || strings.Contains(all, fakeKey) {
		t.Fatalf("a credential reached the output:\n%s", all)
	}
	if !strings.Contains(all, "binance venue ready") || !strings.Contains(all, "rounded down") {
		t.Fatalf("the daemon's log lacks the venue lines:\n%s", all)
	}
}

// Issue 12, defect 6: the whole account locked by the quantitative rules
// (apiTradingStatus's "ACCOUNT" key) fails trading_locks, whatever the
// universe.
func TestExchangeCheckAccountLocked(t *testing.T) {
	ae, f := binanceEnv(t, binancefake.BTC)
	f.LockAccount()
	ae.run("exchange", "check", "--symbols", "BTCUSDT").want(t, 1, "FAIL  trading_locks", "ACCOUNT")
}

// Issue 12, defect 11: the check names the environment it talks to, and a
// key the venue refuses (-2015) is named as possibly a key of another
// environment (demo, testnet and live keys work only on their own).
func TestExchangeCheckEnvironment(t *testing.T) {
	ae, _ := binanceEnv(t, binancefake.BTC)
	ae.run("exchange", "check", "--symbols", "BTCUSDT").want(t, 0, "PASS  environment")
	ae.env[binance.EnvAPIKey] = "a-key-of-another-environment"
	ae.run("exchange", "check", "--symbols", "BTCUSDT").want(t, 1, "FAIL  api_key", "-2015", "demo-fapi.binance.com", "testnet.binancefuture.com")
}

// Issue 12, defect 7: an empty --binance-url (or QUANTUM_BINANCE_URL set
// to nothing in a unit file) is refused, never taken for live.
func TestExchangeCheckEmptyURL(t *testing.T) {
	ae, f := binanceEnv(t, binancefake.BTC)
	ae.run("exchange", "check", "--binance-url=", "--symbols", "BTCUSDT").want(t, 2, "no base URL")
	if n := f.Requests("/fapi/v1/time"); n != 0 {
		t.Fatalf("%d requests reached a venue", n)
	}
}
