package binance

import (
	"errors"
	"math/big"
	"strings"
)

// Decimals are exact rationals (math/big.Rat) parsed from decimal text:
// rounding a quantity down to the step, multiplying by a price and
// comparing with a minimum never go through a float, so "0.3" is 0.3 and
// never 0.29999999999999998.

var errNotDecimal = errors.New("not a decimal number")

// parseDecimal parses an unsigned decimal such as "0.001", "65000.5" or
// Python's "1e-05". It refuses signs, fractions ("1/3"), hex, spaces,
// "5." and ".5", NaN and Inf: only digits, one dot between digits and an
// optional exponent.
func parseDecimal(s string) (*big.Rat, error) {
	if s == "" || len(s) > 64 {
		return nil, errNotDecimal
	}
	mant, exp, hasExp := s, "", false
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp, hasExp = s[:i], s[i+1:], true
	}
	whole, frac, dot := strings.Cut(mant, ".")
	if !digits(whole) || (dot && !digits(frac)) {
		return nil, errNotDecimal
	}
	if hasExp {
		e := strings.TrimPrefix(strings.TrimPrefix(exp, "-"), "+")
		if !digits(e) || len(e) > 3 {
			return nil, errNotDecimal
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, errNotDecimal
	}
	return r, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// places is the number of decimal places of a step such as "0.001" (3)
// or "1" (0), the precision a multiple of it is written with.
func places(step string) int {
	_, frac, ok := strings.Cut(step, ".")
	if !ok {
		return 0
	}
	return len(strings.TrimRight(frac, "0"))
}

// floorToStep rounds x down to a whole multiple of step (> 0), exactly.
func floorToStep(x, step *big.Rat) *big.Rat {
	q := new(big.Rat).Quo(x, step)
	n := new(big.Int).Quo(q.Num(), q.Denom()) // truncation is floor for x >= 0
	return new(big.Rat).Mul(new(big.Rat).SetInt(n), step)
}

// isMultiple reports whether x is a whole multiple of step.
func isMultiple(x, step *big.Rat) bool {
	return new(big.Rat).Quo(x, step).IsInt()
}

// formatDecimal writes x with prec decimal places, trailing zeros
// trimmed: what Binance accepts for a quantity or price.
func formatDecimal(x *big.Rat, prec int) string {
	s := x.FloatString(prec)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
