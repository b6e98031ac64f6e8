package binance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
)

// TestCheck: the checklist's lines come in their documented order, the
// universe and leverages come from the callback only when no symbols are
// given, a policy leverage above the brackets fails, an unreadable universe
// is a failure (not a guess), and the JSON keeps exchange check's key
// order.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	f := binancefake.New("check-key", "check-secret", binancefake.BTC, binancefake.ETH)
	defer f.Close()
	creds, err := binance.NewCredentials("check-key", "check-secret")
	if err != nil {
		t.Fatal(err)
	}
	c, err := binance.New(binance.Config{BaseURL: f.URL(), Credentials: creds, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	universe := func(context.Context) (*binance.Universe, error) {
		asked++
		return &binance.Universe{Symbols: []string{"BTCUSDT", "ETHUSDT"}, Leverage: map[string]int{"BTCUSDT": 15, "ETHUSDT": 101}, Version: "v7", Seq: 7}, nil
	}
	r := binance.Check(ctx, c, binance.CheckOptions{BaseURL: f.URL(), MaxOffset: time.Minute, Universe: universe})
	var names []string
	for _, l := range r.Checks {
		names = append(names, l.Name)
	}
	if got, want := strings.Join(names, ","), "environment,server_time,api_key,position_mode,universe,trading_locks,symbol BTCUSDT,leverage BTCUSDT,symbol ETHUSDT,leverage ETHUSDT"; got != want {
		t.Fatalf("lines %s, want %s", got, want)
	}
	if r.OK || r.Checks[9].OK || !r.Checks[7].OK || r.Checks[4].Detail != "2 symbols from policy v7 (seq 7)" {
		t.Fatalf("ETHUSDT at 101x over its 100x brackets must fail, alone: %+v", r)
	}
	if r.Environment != binance.EnvOther {
		t.Fatalf("environment %q of the local fake, want other", r.Environment)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "FAIL  leverage ETHUSDT  policy 101x, brackets allow up to 100x") {
		t.Fatalf("text: %v\n%s", err, text.String())
	}
	raw, _ := json.Marshal(r)
	if !bytes.HasPrefix(raw, []byte(`{"base_url":"`+f.URL()+`","checks":[{"name":"environment","ok":true,"detail":`)) || !bytes.HasSuffix(raw, []byte(`,"environment":"other","ok":false}`)) {
		t.Fatalf("JSON key order changed: %s", raw)
	}

	r = binance.Check(ctx, c, binance.CheckOptions{BaseURL: f.URL(), MaxOffset: time.Minute, Symbols: []string{"ETHUSDT"}, Universe: universe})
	if asked != 1 || !r.OK || len(r.Checks) != 7 {
		t.Fatalf("--symbols: universe asked %d times (want once, before), ok=%v, %d lines", asked, r.OK, len(r.Checks))
	}
	r = binance.Check(ctx, c, binance.CheckOptions{BaseURL: f.URL(), MaxOffset: time.Minute,
		Universe: func(context.Context) (*binance.Universe, error) { return nil, errors.New("POLICY_MISSING: none") }})
	if r.OK || r.Checks[4].Name != "universe" || r.Checks[4].OK || !strings.Contains(r.Checks[4].Detail, "POLICY_MISSING") {
		t.Fatalf("no universe: %+v", r)
	}
}
