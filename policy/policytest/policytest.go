// Package policytest builds policies and keys for tests of every package.
package policytest

import (
	"testing"
	"time"

	"github.com/quantumtrader/quantum/policy"
)

// ContentJSON is a valid policy content, as `quantum policy publish` and the
// refresh's template take it: two symbols, leverage 6x-15x, ACTIVE.
const ContentJSON = `{
  "policy_version": "1.0.0-ai-v1",
  "trading_state": "ACTIVE",
  "universe_symbols": ["BTCUSDT", "ETHUSDT"],
  "leverage_by_symbol": {"BTCUSDT": 15, "ETHUSDT": 6},
  "harvest_params": {"min_profit_pct": 0.8},
  "kill_params": {"max_drawdown_pct": 5}
}`

// Sample returns a valid policy issued at now and valid for two hours.
func Sample(now time.Time, seq uint64) *policy.Policy {
	return &policy.Policy{
		UniverseSymbols:         []string{"BTCUSDT", "ETHUSDT", "SOLUSDT"},
		LeverageBySymbol:        map[string]int{"BTCUSDT": 15, "ETHUSDT": 10, "SOLUSDT": 6},
		HarvestParams:           map[string]float64{"min_profit_pct": 0.8, "trail_pct": 0.35},
		KillParams:              map[string]float64{"max_drawdown_pct": 5, "max_daily_loss_usdt": 250},
		ValidUntil:              now.Add(2 * time.Hour).Unix(),
		Version:                 "1.0.0-test",
		Seq:                     seq,
		IssuedAt:                now.Unix(),
		Generator:               "policytest",
		TradingState:            policy.StateActive,
		MaxNotionalUSDTBySymbol: map[string]float64{"BTCUSDT": 5000},
		MaxOrdersPerMinute:      30,
	}
}

// Key returns a new signing key.
func Key(t testing.TB) *policy.PrivateKey {
	t.Helper()
	k, err := policy.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Sign signs p with k, failing the test on error.
func Sign(t testing.TB, p *policy.Policy, k *policy.PrivateKey) *policy.Signed {
	t.Helper()
	sp, err := policy.Sign(p, k)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return sp
}

// Fields returns the stored fields of a signed policy.
func Fields(t testing.TB, sp *policy.Signed) map[string]string {
	t.Helper()
	f, err := sp.Fields()
	if err != nil {
		t.Fatalf("fields: %v", err)
	}
	return f
}
