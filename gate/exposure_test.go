package gate_test

import (
	"testing"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// limited is the sample policy with every exposure limit: BTCUSDT's
// position capped at 2000 USDT, 3000 gross, 2 open positions, a 100 USDT
// daily loss.
func limited(mutate func(p *policy.Policy)) *policy.Signed {
	return livePolicy(func(p *policy.Policy) {
		p.MaxPositionNotionalUSDTBySymbol = map[string]float64{"BTCUSDT": 2000}
		p.MaxGrossExposureUSDT = 3000
		p.MaxOpenPositions = 2
		p.MaxDailyLossUSDT = 100
		if mutate != nil {
			mutate(p)
		}
	})
}

// calm is an account far from every limit.
var calm = gate.Account{Read: true, OtherGross: 500, OtherOpen: 1, PnLRead: true, DayPnL: -20}

// TestExposureLimits: every new code, their order, and that an input that
// was not read denies rather than passes. Entries are 0.01 BTC at 65000
// (650 USDT) unless said otherwise.
func TestExposureLimits(t *testing.T) {
	pol := limited(nil)
	cases := []struct {
		name     string
		f        map[string]string
		pol      *policy.Signed
		position float64
		pending  float64
		mark     float64
		acct     gate.Account
		want     reason.Code
	}{
		{"entry within every limit", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, calm, ""},
		{"adding up to the position cap", fields("intent_bridge", "BUY", false), pol, 0.02, 0, 65000, calm, ""}, // 1950
		{"adding beyond the position cap", fields("intent_bridge", "BUY", false), pol, 0.03, 0, 65000, calm, reason.PositionNotionalExceedsMax},
		{"a pending order counts toward the cap", fields("intent_bridge", "BUY", false), pol, 0.01, 0.02, 65000, calm, reason.PositionNotionalExceedsMax},
		{"a short counts by its size", fields("intent_bridge", "SELL", false), pol, -0.03, 0, 65000, calm, reason.PositionNotionalExceedsMax},
		{"the mark moved the position over its cap", fields("intent_bridge", "BUY", false), pol, 0.01, 0, 110000, calm, reason.PositionNotionalExceedsMax},
		{"no cap for the symbol", fields("intent_bridge", "BUY", false, "symbol", "ETHUSDT", "qty", "0.1"), pol, 0, 0, 3000, calm, ""},
		{"gross beyond the cap", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, OtherGross: 2400, OtherOpen: 1, PnLRead: true}, reason.GrossExposureExceedsMax},
		{"gross exactly at the cap", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, OtherGross: 2350, OtherOpen: 1, PnLRead: true}, ""},
		{"a new position beyond the count", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, OtherGross: 500, OtherOpen: 2, PnLRead: true}, reason.MaxOpenPositionsReached},
		{"adding to an open position with the count full", fields("intent_bridge", "BUY", false), pol, 0.01, 0, 65000, gate.Account{Read: true, OtherGross: 500, OtherOpen: 2, PnLRead: true}, ""},
		{"a pending entry makes the position open", fields("intent_bridge", "BUY", false), pol, 0, 0.01, 65000, gate.Account{Read: true, OtherGross: 500, OtherOpen: 2, PnLRead: true}, ""},
		{"the day's loss at the limit", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, PnLRead: true, DayPnL: -100}, reason.DailyLossLimitReached},
		{"the day's loss just under", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, PnLRead: true, DayPnL: -99.99}, ""},
		{"a day in profit", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, PnLRead: true, DayPnL: 5000}, ""},
		{"order: position before gross, count and loss", fields("intent_bridge", "BUY", false, "qty", "0.04"), pol, 0, 0, 65000, gate.Account{Read: true, OtherGross: 9000, OtherOpen: 5, PnLRead: true, DayPnL: -1000}, reason.PositionNotionalExceedsMax},
		{"order: gross before count and loss", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, OtherGross: 9000, OtherOpen: 5, PnLRead: true, DayPnL: -1000}, reason.GrossExposureExceedsMax},
		{"order: count before loss", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true, OtherGross: 0, OtherOpen: 5, PnLRead: true, DayPnL: -1000}, reason.MaxOpenPositionsReached},
		{"order: the earlier checks first", fields("intent_bridge", "BUY", false, "leverage", "99"), pol, 0, 0, 65000, gate.Account{}, reason.LeverageExceedsPolicy},
		{"account not read", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{PnLRead: true}, reason.ExchangeUnavailable},
		{"PnL not read", fields("intent_bridge", "BUY", false), pol, 0, 0, 65000, gate.Account{Read: true}, reason.ExchangeUnavailable},
		{"no mark price", fields("intent_bridge", "BUY", false, "type", "LIMIT", "price", "60000"), pol, 0, 0, 0, calm, reason.ExchangeUnavailable},
		{"no limits set: nothing read is needed", fields("intent_bridge", "BUY", false), livePolicy(nil), 0, 0, 65000, gate.Account{}, ""},
		{"only the loss stop: the account is not needed", fields("intent_bridge", "BUY", false), livePolicy(func(p *policy.Policy) { p.MaxDailyLossUSDT = 50 }), 0, 0, 65000, gate.Account{PnLRead: true}, ""},
		{"an owner flip grows the position: checked", fields("exitbrain_v3_5", "SELL", false, "qty", "0.05"), pol, 0.01, 0, 65000, calm, reason.PositionNotionalExceedsMax},
		{"a non-owner add on the same side is an entry", fields("intent_bridge", "BUY", false), pol, 0.01, 0, 65000, gate.Account{Read: true, PnLRead: true, DayPnL: -500}, reason.DailyLossLimitReached},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := gate.Check(gate.Input{Plan: parse(t, tc.f), Policy: tc.pol, Position: tc.position, Pending: tc.pending,
				MarkPrice: tc.mark, Account: tc.acct, Now: t0}, cfg)
			if d.Code != tc.want || d.Allow != (tc.want == "") {
				t.Fatalf("got %+v, want %q", d, tc.want)
			}
			if !d.Allow && d.Msg == "" {
				t.Fatal("a denial without a message")
			}
		})
	}
}

// TestExitsPassEveryLimit: a plan that cannot grow the position passes
// every exposure limit, each one breached and the account unreadable, in
// ACTIVE and in REDUCING.
func TestExitsPassEveryLimit(t *testing.T) {
	breached := []struct {
		name string
		acct gate.Account
		mark float64
	}{
		{"every limit breached", gate.Account{Read: true, OtherGross: 1e9, OtherOpen: 99, PnLRead: true, DayPnL: -1e6}, 65000},
		{"nothing read", gate.Account{}, 65000},
		{"no mark price", gate.Account{}, 0},
	}
	exits := []struct {
		name     string
		f        map[string]string
		position float64
	}{
		{"owner reduceOnly close", fields("exitbrain_v3_5", "SELL", true, "qty", "1"), 1},
		{"owner close without the flag", fields("exitbrain_v3_5", "SELL", false, "qty", "1"), 1},
		{"owner partial close", fields("exitbrain_v3_5", "SELL", false, "qty", "0.4"), 1},
		{"owner reduceOnly larger than the position", fields("exitbrain_v3_5", "SELL", true, "qty", "5"), 1},
		{"owner closes a short", fields("exitbrain_v3_5", "BUY", true, "qty", "1"), -1},
		{"break-glass close", fields("emergency_stop", "BUY", true, "qty", "1"), -1},
		{"owner close outside the universe", fields("exitbrain_v3_5", "SELL", true, "symbol", "DOGEUSDT", "qty", "1000"), 1000},
	}
	for _, state := range []policy.TradingState{policy.StateActive, policy.StateReducing} {
		pol := limited(func(p *policy.Policy) {
			p.TradingState = state
			p.MaxPositionNotionalUSDTBySymbol["DOGEUSDT"] = 1
		})
		for _, b := range breached {
			for _, e := range exits {
				t.Run(string(state)+"/"+b.name+"/"+e.name, func(t *testing.T) {
					in := gate.Input{Plan: parse(t, e.f), Policy: pol, Position: e.position, MarkPrice: b.mark, Account: b.acct, Now: t0}
					d := gate.Check(in, cfg)
					if !d.Allow || !d.Reducing {
						t.Fatalf("exit denied: %+v", d)
					}
					if !gate.Reducing(in) { // the apply layer skips the PnL read on it
						t.Fatal("gate.Reducing is false for an exit Check found reducing")
					}
				})
			}
		}
	}
}

// TestReducingIsCheckReducing: gate.Reducing, on which the apply layer
// skips the day's PnL read, says what Check's decision says, and is false
// for every plan that can grow the position: an entry, an add, a flip,
// a non-owner's order, a reduce-only order on the position's side.
func TestReducingIsCheckReducing(t *testing.T) {
	cases := []struct {
		name     string
		f        map[string]string
		position float64
		want     bool
	}{
		{"new position", fields("intent_bridge", "BUY", false), 0, false},
		{"add", fields("intent_bridge", "BUY", false), 1, false},
		{"owner flip", fields("exitbrain_v3_5", "SELL", false, "qty", "3"), 1, false},
		{"owner reduceOnly on the position's side", fields("exitbrain_v3_5", "BUY", true, "qty", "1"), 1, false},
		{"owner reduceOnly while flat", fields("exitbrain_v3_5", "SELL", true, "qty", "1"), 0, false},
		{"owner close", fields("exitbrain_v3_5", "SELL", false, "qty", "1"), 1, true},
		{"owner reduceOnly larger than the position", fields("exitbrain_v3_5", "SELL", true, "qty", "5"), 1, true},
		{"non-owner close", fields("intent_bridge", "SELL", false, "qty", "0.5"), 1, true},
	}
	pol := limited(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := gate.Input{Plan: parse(t, tc.f), Policy: pol, Position: tc.position, MarkPrice: 65000, Now: t0}
			if got, d := gate.Reducing(in), gate.Check(in, cfg); got != tc.want || got != d.Reducing {
				t.Fatalf("Reducing %v, Check's %v, want %v", got, d.Reducing, tc.want)
			}
		})
	}
}

// BenchmarkGateExposure is BenchmarkGate's check stage on an entry with
// every exposure limit set (the path that reads them all), beside the same
// entry under a policy without them.
func BenchmarkGateExposure(b *testing.B) {
	p, err := plan.Parse(fields("intent_bridge", "BUY", false))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pol  *policy.Signed
	}{{"without", livePolicy(nil)}, {"with", limited(nil)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := gate.Check(gate.Input{Plan: p, Policy: c.pol, Position: 0.01, MarkPrice: 65000, Account: calm, Now: t0}, cfg); !d.Allow {
					b.Fatal(d)
				}
			}
		})
	}
}
