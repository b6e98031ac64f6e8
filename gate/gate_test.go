package gate_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/reason"
)

var t0 = time.Unix(1_780_000_000, 0)

var (
	ownerKey  = []byte("exitbrain-secret-0123456789abcdef0123456789")
	bridgeKey = []byte("intent-bridge-secret-0123456789abcdef012345")
	rogueKey  = []byte("rogue-secret-0123456789abcdef0123456789abcd")
	ring      = plan.NewSecrets(map[string][]byte{
		"exitbrain_v3_5": ownerKey, "intent_bridge": bridgeKey, "rogue": rogueKey, "emergency_stop": rogueKey[:40],
	})
	cfg = gate.Config{ExitOwner: gate.DefaultExitOwner, BreakGlass: map[string]bool{"emergency_stop": true}, Freshness: 30 * time.Second}
)

func fields(source, side string, reduceOnly bool, extra ...string) map[string]string {
	f := map[string]string{
		"plan_id": "p-1", "decision": "EXECUTE", "symbol": "BTCUSDT", "side": side, "type": "MARKET",
		"qty": "0.01", "reduceOnly": strconv.FormatBool(reduceOnly), "source": source,
		"timestamp": strconv.FormatInt(t0.Unix(), 10), "action": "TEST",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f[extra[i]] = extra[i+1]
	}
	return f
}

func parse(t *testing.T, f map[string]string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse(f)
	if err != nil {
		t.Fatalf("parse %v: %v", f, err)
	}
	return p
}

func signed(t *testing.T, f map[string]string, secret []byte) *plan.Plan {
	return parse(t, plan.SignFields(f, secret))
}

func TestAuthenticate(t *testing.T) {
	cases := []struct {
		name string
		p    *plan.Plan
		want reason.Code
	}{
		{"owner signed", signed(t, fields("exitbrain_v3_5", "SELL", true), ownerKey), ""},
		{"unsigned", parse(t, fields("exitbrain_v3_5", "SELL", true)), reason.AuthMissing},
		{"unknown source", signed(t, fields("ghost", "BUY", false), rogueKey), reason.AuthUnknownSource},
		{"owner name, rogue key", signed(t, fields("exitbrain_v3_5", "SELL", true), rogueKey), reason.AuthInvalid},
		{"another source's key", signed(t, fields("intent_bridge", "BUY", false), ownerKey), reason.AuthInvalid},
		{"field changed after signing", func() *plan.Plan {
			f := plan.SignFields(fields("intent_bridge", "BUY", false), bridgeKey)
			f["qty"] = "10"
			return parse(t, f)
		}(), reason.AuthInvalid},
		{"field added after signing", func() *plan.Plan {
			f := plan.SignFields(fields("intent_bridge", "BUY", false), bridgeKey)
			f["leverage"] = "125"
			return parse(t, f)
		}(), reason.AuthInvalid},
		{"source rewritten to the owner", func() *plan.Plan {
			f := plan.SignFields(fields("rogue", "SELL", true), rogueKey)
			f["source"] = "exitbrain_v3_5"
			return parse(t, f)
		}(), reason.AuthInvalid},
		{"garbage sig", parse(t, fields("intent_bridge", "BUY", false, "sig", "zz")), reason.AuthInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := gate.Authenticate(tc.p, ring)
			if d.Code != tc.want || d.Allow != (tc.want == "") {
				t.Fatalf("got %+v, want %q", d, tc.want)
			}
		})
	}
}

func TestFresh(t *testing.T) {
	p := parse(t, fields("intent_bridge", "BUY", false))
	for _, tc := range []struct {
		now  time.Time
		want reason.Code
	}{
		{t0, ""}, {t0.Add(30 * time.Second), ""}, {t0.Add(-30 * time.Second), ""},
		{t0.Add(31 * time.Second), reason.PlanExpired}, {t0.Add(-31 * time.Second), reason.PlanExpired},
	} {
		if d := gate.Fresh(p, tc.now, 30*time.Second); d.Code != tc.want {
			t.Errorf("now %v: %+v, want %q", tc.now.Sub(t0), d, tc.want)
		}
	}
}

func livePolicy(mutate func(p *policy.Policy)) *policy.Signed {
	p := policytest.Sample(t0, 1)
	if mutate != nil {
		mutate(p)
	}
	// Check trusts what it is given (the store verified it); no signature needed.
	return &policy.Signed{Policy: *p}
}

func TestCheck(t *testing.T) {
	active := livePolicy(nil)
	halted := livePolicy(func(p *policy.Policy) { p.TradingState = policy.StateHalted })
	reducing := livePolicy(func(p *policy.Policy) { p.TradingState = policy.StateReducing })
	noLev := livePolicy(func(p *policy.Policy) { delete(p.LeverageBySymbol, "BTCUSDT") })
	cases := []struct {
		name     string
		f        map[string]string
		pol      *policy.Signed
		polErr   error
		position float64
		mark     float64
		now      time.Time
		want     reason.Code
	}{
		{"entry allowed", fields("intent_bridge", "BUY", false), active, nil, 0, 65000, t0, ""},
		{"no policy: its own code", fields("intent_bridge", "BUY", false), nil, reason.Errorf(reason.PolicyHashMismatch, "x"), 0, 65000, t0, reason.PolicyHashMismatch},
		{"no policy, uncoded error", fields("intent_bridge", "BUY", false), nil, errors.New("boom"), 0, 65000, t0, reason.PolicyUnavailable},
		{"policy expired since loaded", fields("intent_bridge", "BUY", false), active, nil, 0, 65000, t0.Add(2 * time.Hour), reason.PolicyStale},
		{"halted denies entries", fields("intent_bridge", "BUY", false), halted, nil, 0, 65000, t0, reason.TradingHalted},
		{"halted denies owner closes too", fields("exitbrain_v3_5", "SELL", true), halted, nil, 0.01, 65000, t0, reason.TradingHalted},
		{"reducing denies entries", fields("intent_bridge", "BUY", false), reducing, nil, 0, 65000, t0, reason.TradingStateReducing},
		{"reducing denies an owner flip", fields("exitbrain_v3_5", "SELL", false, "qty", "0.05"), reducing, nil, 0.01, 65000, t0, reason.TradingStateReducing},
		{"reducing allows the owner's close", fields("exitbrain_v3_5", "SELL", true), reducing, nil, 0.01, 65000, t0, ""},
		{"reducing: a non-owner close is an ownership denial", fields("intent_bridge", "SELL", true), reducing, nil, 0.01, 65000, t0, reason.DenyNotExitOwner},
		{"symbol outside universe", fields("intent_bridge", "BUY", false, "symbol", "DOGEUSDT"), active, nil, 0, 1, t0, reason.SymbolNotInUniverse},
		{"owner may close outside universe", fields("exitbrain_v3_5", "SELL", true, "symbol", "DOGEUSDT"), active, nil, 0.01, 1, t0, ""},
		{"no leverage for symbol", fields("intent_bridge", "BUY", false), noLev, nil, 0, 65000, t0, reason.PolicyNoLeverageForSymbol},
		{"leverage above policy", fields("intent_bridge", "BUY", false, "leverage", "16"), active, nil, 0, 65000, t0, reason.LeverageExceedsPolicy},
		{"leverage at policy", fields("intent_bridge", "BUY", false, "leverage", "15"), active, nil, 0, 65000, t0, ""},
		// Python's float(leverage) (issue 13): a fraction is dropped before
		// sending, but what was asked for is what the policy bounds.
		{"leverage 15.0 at policy", fields("intent_bridge", "BUY", false, "leverage", "15.0"), active, nil, 0, 65000, t0, ""},
		{"leverage 14.5 under policy", fields("intent_bridge", "BUY", false, "leverage", "14.5"), active, nil, 0, 65000, t0, ""},
		{"leverage 15.5 above policy though 15 would be sent", fields("intent_bridge", "BUY", false, "leverage", "15.5"), active, nil, 0, 65000, t0, reason.LeverageExceedsPolicy},
		{"leverage 15.000000000000000001 above policy", fields("intent_bridge", "BUY", false, "leverage", "15.000000000000000001"), active, nil, 0, 65000, t0, reason.LeverageExceedsPolicy},
		// Python's str of a small quantity.
		{"qty 1e-05", fields("intent_bridge", "BUY", false, "qty", "1e-05"), active, nil, 0, 65000, t0, ""},
		{"qty 1e-01 above the notional cap", fields("intent_bridge", "BUY", false, "qty", "1e-01"), active, nil, 0, 65000, t0, reason.NotionalExceedsMaxPerOrder},
		{"owner close 1e-02 of a 0.01 position is reducing", fields("exitbrain_v3_5", "SELL", false, "qty", "1e-02"), reducing, nil, 0.01, 65000, t0, ""},
		{"owner 1.0000000000000001e-02 flips a 0.01 position: not reducing", fields("exitbrain_v3_5", "SELL", false, "qty", "1.0000000000000001e-02"), reducing, nil, 0.01, 65000, t0, reason.TradingStateReducing},
		{"non-owner reduceOnly", fields("intent_bridge", "SELL", true), active, nil, 0.01, 65000, t0, reason.DenyNotExitOwner},
		{"non-owner opposite side without the flag", fields("intent_bridge", "SELL", false), active, nil, 0.01, 65000, t0, reason.DenyNotExitOwner},
		{"non-owner flip of a short", fields("intent_bridge", "BUY", false, "qty", "1"), active, nil, -0.01, 65000, t0, reason.DenyNotExitOwner},
		{"non-owner same side adds: not an exit", fields("intent_bridge", "BUY", false), active, nil, 0.01, 65000, t0, ""},
		{"owner close", fields("exitbrain_v3_5", "SELL", true), active, nil, 0.01, 65000, t0, ""},
		{"owner close without the flag", fields("exitbrain_v3_5", "SELL", false), active, nil, 0.01, 65000, t0, ""},
		{"break-glass close", fields("emergency_stop", "BUY", true), active, nil, -0.5, 65000, t0, ""},
		{"reduceOnly on a flat position", fields("exitbrain_v3_5", "SELL", true), active, nil, 0, 65000, t0, reason.ReduceOnlyWouldIncrease},
		{"reduceOnly on the same side", fields("exitbrain_v3_5", "BUY", true), active, nil, 0.01, 65000, t0, reason.ReduceOnlyWouldIncrease},
		{"notional above cap", fields("intent_bridge", "BUY", false, "qty", "0.1"), active, nil, 0, 65000, t0, reason.NotionalExceedsMaxPerOrder},
		{"LIMIT notional uses its price", fields("intent_bridge", "BUY", false, "qty", "0.1", "type", "LIMIT", "price", "40000"), active, nil, 0, 65000, t0, ""},
		{"no mark price: cannot check notional", fields("intent_bridge", "BUY", false), active, nil, 0, 0, t0, reason.ExchangeUnavailable},
		{"no notional cap for symbol", fields("intent_bridge", "BUY", false, "symbol", "ETHUSDT", "qty", "100"), active, nil, 0, 3000, t0, ""},
		{"owner close above the cap", fields("exitbrain_v3_5", "SELL", true, "qty", "1"), active, nil, 1, 65000, t0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := gate.Check(gate.Input{Plan: parse(t, tc.f), Policy: tc.pol, PolicyErr: tc.polErr, Position: tc.position, MarkPrice: tc.mark, Now: tc.now}, cfg)
			if d.Code != tc.want || d.Allow != (tc.want == "") {
				t.Fatalf("got %+v, want %q", d, tc.want)
			}
			if !d.Allow && d.Msg == "" {
				t.Fatal("a denial without a message")
			}
		})
	}
}

// BenchmarkGate is one plan through every pure check, HMAC included.
func BenchmarkGate(b *testing.B) {
	f := plan.SignFields(map[string]string{
		"plan_id": "bench-000001", "decision": "EXECUTE", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
		"qty": "0.01", "reduceOnly": "true", "source": "exitbrain_v3_5",
		"timestamp": strconv.FormatInt(t0.Unix(), 10), "action": "FULL_CLOSE_PROPOSED",
	}, ownerKey)
	pol := livePolicy(nil)
	b.ReportAllocs()
	for b.Loop() {
		p, err := plan.Parse(f)
		if err != nil {
			b.Fatal(err)
		}
		if d := gate.Authenticate(p, ring); !d.Allow {
			b.Fatal(d)
		}
		if d := gate.Fresh(p, t0, cfg.Freshness); !d.Allow {
			b.Fatal(d)
		}
		if d := gate.Check(gate.Input{Plan: p, Policy: pol, Position: 0.01, MarkPrice: 65000, Now: t0}, cfg); !d.Allow {
			b.Fatal(d)
		}
	}
}

// BenchmarkGateParts splits BenchmarkGate into its stages.
func BenchmarkGateParts(b *testing.B) {
	f := plan.SignFields(map[string]string{
		"plan_id": "bench-000001", "decision": "EXECUTE", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
		"qty": "0.01", "reduceOnly": "true", "source": "exitbrain_v3_5",
		"timestamp": strconv.FormatInt(t0.Unix(), 10), "action": "FULL_CLOSE_PROPOSED",
	}, ownerKey)
	p, err := plan.Parse(f)
	if err != nil {
		b.Fatal(err)
	}
	pol := livePolicy(nil)
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			plan.Parse(f)
		}
	})
	b.Run("authenticate", func(b *testing.B) {
		for b.Loop() {
			gate.Authenticate(p, ring)
		}
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			gate.Check(gate.Input{Plan: p, Policy: pol, Position: 0.01, MarkPrice: 65000, Now: t0}, cfg)
		}
	})
}

// TestCanaryRule: canaries come from the proof source only, and the proof
// source sends canaries only; a configured proof source replaces the
// default.
func TestCanaryRule(t *testing.T) {
	for _, c := range []struct {
		name   string
		source string
		canary string
		cfg    gate.Config
		want   reason.Code
	}{
		{"proof canary", "quantum_proof", "true", cfg, ""},
		{"real plan", "intent_bridge", "false", cfg, ""},
		{"producer canary", "intent_bridge", "true", cfg, reason.PlanCanaryNotProofSource},
		{"owner canary", "exitbrain_v3_5", "true", cfg, reason.PlanCanaryNotProofSource},
		{"proof real order", "quantum_proof", "false", cfg, reason.AuthProofSourceCanaryOnly},
		{"configured proof source", "prover", "true", gate.Config{ExitOwner: gate.DefaultExitOwner, ProofSource: "prover"}, ""},
		{"default no longer the proof source", "quantum_proof", "true", gate.Config{ExitOwner: gate.DefaultExitOwner, ProofSource: "prover"}, reason.PlanCanaryNotProofSource},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := gate.Canary(parse(t, fields(c.source, "BUY", false, "canary", c.canary)), c.cfg)
			if d.Allow != (c.want == "") || d.Code != c.want {
				t.Fatalf("Canary = %+v, want code %q", d, c.want)
			}
		})
	}
}

// TestReducingIsExact: under REDUCING, the owner's opposite-side order may
// close the position exactly, never flip it by a dust amount (a float
// tolerance used to let qty = position + 1e-9 through at a position of
// 1000).
func TestReducingIsExact(t *testing.T) {
	pol := policytest.Sign(t, func() *policy.Policy {
		p := policytest.Sample(t0, 1)
		p.TradingState = policy.StateReducing
		p.MaxNotionalUSDTBySymbol = nil
		return p
	}(), policytest.Key(t))
	for _, c := range []struct {
		qty  string
		pos  float64
		want reason.Code
	}{
		{"1000", 1000, ""},
		{"999.99999999", 1000, ""},
		{"1000.000000001", 1000, reason.TradingStateReducing},
		{"0.015384615384615385", 0.015384615384615385, ""},
		{"0.015384615384615386", 0.015384615384615385, reason.TradingStateReducing},
	} {
		f := fields("exitbrain_v3_5", "SELL", false, "qty", c.qty)
		d := gate.Check(gate.Input{Plan: parse(t, f), Policy: pol, Position: c.pos, MarkPrice: 65000, Now: t0}, cfg)
		if d.Allow != (c.want == "") || d.Code != c.want {
			t.Errorf("qty %s against position %v: %+v, want %q", c.qty, c.pos, d, c.want)
		}
	}
}
