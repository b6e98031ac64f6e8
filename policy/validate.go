package policy

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/reason"
)

// MaxLeverage is the highest leverage a policy may grant (Binance USD-M's
// ceiling).
const MaxLeverage = 125

// Validate checks the content rules of a policy and returns a POLICY_INVALID
// error listing every rule broken, or nil. The same function runs before a
// publish and on every read.
func Validate(p *Policy) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if len(p.UniverseSymbols) == 0 {
		bad("universe_symbols is empty")
	}
	seen := make(map[string]bool, len(p.UniverseSymbols))
	for _, s := range p.UniverseSymbols {
		switch {
		case !market.ValidSymbol(s):
			bad("universe symbol %q does not match ^[A-Z0-9]{2,20}$", s)
		case seen[s]:
			bad("universe symbol %s is listed twice", s)
		}
		seen[s] = true
		if _, ok := p.LeverageBySymbol[s]; !ok && market.ValidSymbol(s) {
			bad("universe symbol %s has no entry in leverage_by_symbol", s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(p.LeverageBySymbol)) {
		l := p.LeverageBySymbol[s]
		if !market.ValidSymbol(s) {
			bad("leverage_by_symbol key %q is not a symbol", s)
		}
		if l < 1 || l > MaxLeverage {
			bad("leverage for %s is %d, want 1..%d", s, l, MaxLeverage)
		}
	}
	checkParams := func(field string, m map[string]float64) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if strings.TrimSpace(k) == "" {
				bad("%s has an empty name", field)
			}
			if v := m[k]; math.IsNaN(v) || math.IsInf(v, 0) {
				bad("%s.%s is not a finite number", field, k)
			}
		}
	}
	checkParams(FieldHarvestParams, p.HarvestParams)
	checkParams(FieldKillParams, p.KillParams)
	for _, s := range slices.Sorted(maps.Keys(p.MaxNotionalUSDTBySymbol)) {
		v := p.MaxNotionalUSDTBySymbol[s]
		if !market.ValidSymbol(s) {
			bad("max_notional_usdt_by_symbol key %q is not a symbol", s)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			bad("max_notional_usdt_by_symbol.%s is %v, want a finite number > 0", s, v)
		}
	}
	if p.MaxOrdersPerMinute < 0 {
		bad("max_orders_per_minute is %d, want > 0 or absent", p.MaxOrdersPerMinute)
	}
	if p.ValidUntil <= p.IssuedAt {
		bad("valid_until_epoch %d is not after issued_at_epoch %d", p.ValidUntil, p.IssuedAt)
	}
	if p.IssuedAt <= 0 {
		bad("issued_at_epoch %d is not a time", p.IssuedAt)
	}
	if !p.TradingState.Valid() {
		bad("trading_state %q is not ACTIVE, REDUCING or HALTED", p.TradingState)
	}
	if p.Seq < 1 || p.Seq > MaxSeq {
		bad("policy_seq is %d, want 1..%d", p.Seq, uint64(MaxSeq))
	}
	if err := checkLabel(p.Version, 64); err != nil {
		bad("policy_version: %v", err)
	}
	if err := checkLabel(p.Generator, 128); err != nil {
		bad("generator: %v", err)
	}
	if len(errs) == 0 {
		return nil
	}
	return reason.Errorf(reason.PolicyInvalid, "%s", strings.Join(errs, "; "))
}

// checkLabel accepts 1..max printable characters without surrounding space.
func checkLabel(s string, max int) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > max:
		return fmt.Errorf("longer than %d bytes", max)
	case strings.TrimSpace(s) != s:
		return errors.New("has leading or trailing space")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("has a non-printable character %q", r)
		}
	}
	return nil
}
