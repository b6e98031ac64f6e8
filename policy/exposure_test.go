package policy_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/reason"
)

// withExposure is the sample policy with every exposure limit set.
func withExposure() *policy.Policy {
	p := policytest.Sample(t0, 3)
	p.MaxPositionNotionalUSDTBySymbol = map[string]float64{"BTCUSDT": 20000, "ETHUSDT": 7500.5}
	p.MaxGrossExposureUSDT = 30000
	p.MaxOpenPositions = 2
	p.MaxDailyLossUSDT = 250.75
	return p
}

// TestExposureFieldsRoundTrip: the four limits are signed fields, stored as
// the text the Python readers parse, and read back as written.
func TestExposureFieldsRoundTrip(t *testing.T) {
	k := fixedKey()
	sp := policytest.Sign(t, withExposure(), k)
	f := policytest.Fields(t, sp)
	for name, want := range map[string]string{
		"max_position_notional_usdt_by_symbol": `{"BTCUSDT":20000,"ETHUSDT":7500.5}`,
		"max_gross_exposure_usdt":              "30000",
		"max_open_positions":                   "2",
		"max_daily_loss_usdt":                  "250.75",
	} {
		if f[name] != want {
			t.Errorf("%s = %q, want %q", name, f[name], want)
		}
	}
	got, err := policy.Verify(f, policy.NewTrustedKeys(k.Public()), t0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Policy, *withExposure()) {
		t.Fatalf("read back %+v, want %+v", got.Policy, *withExposure())
	}
	// Signed like every field: changing one breaks the hash.
	f["max_gross_exposure_usdt"] = "3000000"
	if _, err := policy.Verify(f, policy.NewTrustedKeys(k.Public()), t0, time.Second); reason.CodeOf(err) != reason.PolicyHashMismatch {
		t.Fatalf("a raised cap read as %v, want POLICY_HASH_MISMATCH", err)
	}
	// Absent limits stay absent.
	plain := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 3), k))
	for _, name := range []string{"max_position_notional_usdt_by_symbol", "max_gross_exposure_usdt", "max_open_positions", "max_daily_loss_usdt"} {
		if _, ok := plain[name]; ok {
			t.Errorf("%s written for a policy without it", name)
		}
	}
}

func TestValidateExposure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(p *policy.Policy)
		want   string
	}{
		{"all set", func(p *policy.Policy) {}, ""},
		{"zero position cap", func(p *policy.Policy) { p.MaxPositionNotionalUSDTBySymbol["BTCUSDT"] = 0 }, "max_position_notional_usdt_by_symbol.BTCUSDT"},
		{"NaN position cap", func(p *policy.Policy) { p.MaxPositionNotionalUSDTBySymbol["BTCUSDT"] = math.NaN() }, "max_position_notional_usdt_by_symbol.BTCUSDT"},
		{"position cap key not a symbol", func(p *policy.Policy) { p.MaxPositionNotionalUSDTBySymbol["btc"] = 1 }, `key "btc" is not a symbol`},
		{"negative gross", func(p *policy.Policy) { p.MaxGrossExposureUSDT = -1 }, "max_gross_exposure_usdt is -1"},
		{"infinite gross", func(p *policy.Policy) { p.MaxGrossExposureUSDT = math.Inf(1) }, "max_gross_exposure_usdt is +Inf"},
		{"negative open positions", func(p *policy.Policy) { p.MaxOpenPositions = -2 }, "max_open_positions is -2"},
		{"negative daily loss", func(p *policy.Policy) { p.MaxDailyLossUSDT = -5 }, "max_daily_loss_usdt is -5"},
		{"NaN daily loss", func(p *policy.Policy) { p.MaxDailyLossUSDT = math.NaN() }, "max_daily_loss_usdt is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := withExposure()
			tc.mutate(p)
			err := policy.Validate(p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if reason.CodeOf(err) != reason.PolicyInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want POLICY_INVALID containing %q, got %v", tc.want, err)
			}
		})
	}
}

// TestExposureFieldsParse: a signed limit that does not parse, or is zero
// (which must never read as "no limit"), is refused with POLICY_PARSE_ERROR.
func TestExposureFieldsParse(t *testing.T) {
	k := fixedKey()
	ring := policy.NewTrustedKeys(k.Public())
	for _, tc := range []struct{ field, value string }{
		{"max_position_notional_usdt_by_symbol", `["BTCUSDT"]`},
		{"max_position_notional_usdt_by_symbol", `null`},
		{"max_gross_exposure_usdt", "lots"},
		{"max_gross_exposure_usdt", "0"},
		{"max_gross_exposure_usdt", ""},
		{"max_open_positions", "2.5"},
		{"max_open_positions", "0"},
		{"max_daily_loss_usdt", "0"},
		{"max_daily_loss_usdt", "1e"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			f := policytest.Fields(t, policytest.Sign(t, withExposure(), k))
			f[tc.field] = tc.value
			_, err := policy.Verify(policy.SignFields(f, k), ring, t0, time.Second)
			if reason.CodeOf(err) != reason.PolicyParseError || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want POLICY_PARSE_ERROR naming %s", err, tc.field)
			}
		})
	}
}

// TestContentExposure: a policy file may carry the limits; Build keeps them.
func TestContentExposure(t *testing.T) {
	c, err := policy.ParseContent(strings.NewReader(`{"universe_symbols":["BTCUSDT"],"leverage_by_symbol":{"BTCUSDT":5},
		"harvest_params":{},"kill_params":{},"policy_version":"1.0.0","trading_state":"ACTIVE",
		"max_position_notional_usdt_by_symbol":{"BTCUSDT":1000},"max_gross_exposure_usdt":1500,
		"max_open_positions":3,"max_daily_loss_usdt":100}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Build(policy.Stamp{Seq: 1, IssuedAt: t0, Validity: time.Hour, Generator: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxPositionNotionalUSDTBySymbol["BTCUSDT"] != 1000 || p.MaxGrossExposureUSDT != 1500 || p.MaxOpenPositions != 3 || p.MaxDailyLossUSDT != 100 {
		t.Fatalf("built %+v", p)
	}
	c.MaxDailyLossUSDT = -1
	if _, err := c.Build(policy.Stamp{Seq: 1, IssuedAt: t0, Validity: time.Hour, Generator: "test"}); reason.CodeOf(err) != reason.PolicyInvalid {
		t.Fatalf("a negative daily loss built: %v", err)
	}
}
