package paper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quantumtrader/quantum/market"
)

// Quantities and prices are fixed-point integers in units of 1e-8 ("e8"),
// exact in Go's int64 and in the doubles of Redis Lua as long as they stay
// within ±MaxUnits (2^53-1, about 90 million whole units).
const (
	decimals = 8
	unit     = 100_000_000 // 1e8 units make 1

	// MaxUnits is the largest quantity, price or position the venue
	// accepts, in units of 1e-8: 2^53-1, the largest integer that every
	// double (Redis Lua's only number type) holds exactly. place.lua holds
	// the same literal.
	MaxUnits = 1<<53 - 1
)

var (
	errNotDecimal = errors.New("not a decimal number")
	errPrecision  = fmt.Errorf("more than %d decimal places", decimals)
	errTooLarge   = fmt.Errorf("larger than %s", formatE8(MaxUnits))
)

// parseE8 parses an unsigned decimal into units of 1e-8, exactly. It takes
// what producers send: "0.001", "65000.5", "0.10000000000" (trailing zeros
// beyond the 8th place are exact) and Python's scientific form "1e-05".
// It refuses signs, spaces, "5.", ".5", hex, fractions, NaN and Inf, a
// non-zero digit beyond the 8th decimal place, and values above MaxUnits.
// Zero parses; callers that want > 0 check it.
func parseE8(s string) (int64, error) { return parseUnits(s, false) }

// floorE8 is parseE8 that rounds a value with more than 8 decimal places
// down to the 8th (never up) instead of refusing it: Python's
// str(usd*lev/price) has 16-18 ("0.015384615384615385").
func floorE8(s string) (int64, error) { return parseUnits(s, true) }

func parseUnits(s string, floor bool) (int64, error) {
	if len(s) == 0 || len(s) > 64 {
		return 0, errNotDecimal
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e < -100 || e > 100 {
			return 0, errNotDecimal
		}
		mant, exp = s[:i], e
	}
	intPart, frac, dot := strings.Cut(mant, ".")
	if !allDigits(intPart) || (dot && !allDigits(frac)) {
		return 0, errNotDecimal
	}
	// value = digits × 10^(exp-len(frac)); in units of 1e-8, shift by 8 more.
	digits := strings.TrimLeft(intPart+frac, "0")
	shift := exp - len(frac) + decimals
	for shift < 0 && strings.HasSuffix(digits, "0") {
		digits, shift = digits[:len(digits)-1], shift+1
	}
	if digits == "" {
		return 0, nil
	}
	if shift < 0 && floor {
		if -shift >= len(digits) {
			return 0, nil
		}
		digits, shift = digits[:len(digits)+shift], 0
	}
	if shift < 0 {
		return 0, errPrecision
	}
	if len(digits)+shift > len(strconv.Itoa(MaxUnits)) {
		return 0, errTooLarge
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil || n > MaxUnits {
		return 0, errTooLarge
	}
	return n, nil
}

func allDigits(s string) bool {
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

// formatE8 is the canonical decimal text of n units of 1e-8: no exponent,
// no trailing zeros, "0" for zero, a leading "-" when negative. place.lua's
// from_e8 writes the same text.
func formatE8(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	whole, frac := n/unit, n%unit
	if frac == 0 {
		return sign + strconv.FormatInt(whole, 10)
	}
	f := strings.TrimRight(fmt.Sprintf("%08d", frac), "0")
	return sign + strconv.FormatInt(whole, 10) + "." + f
}

// ParsePrice parses one --paper-price flag value, "SYMBOL=PRICE" such as
// "BTCUSDT=65000.5", into the symbol and the price in canonical decimal
// text (ready for New's map). The symbol must match ^[A-Z0-9]{2,20}$; the
// price must be a finite decimal > 0 with at most 8 decimal places and at
// most MaxUnits/1e8 (about 90 million).
func ParsePrice(s string) (symbol, price string, err error) {
	sym, p, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("paper price %q: want SYMBOL=PRICE, such as BTCUSDT=65000.5", s)
	}
	price, err = canonicalPrice(sym, p)
	if err != nil {
		return "", "", err
	}
	return sym, price, nil
}

// canonicalPrice checks a symbol and its mark price and returns the price's
// canonical text.
func canonicalPrice(symbol, price string) (string, error) {
	if !market.ValidSymbol(symbol) {
		return "", fmt.Errorf("paper price: symbol %q: want 2-20 of A-Z and 0-9", symbol)
	}
	n, err := parseE8(price)
	if err != nil {
		return "", fmt.Errorf("paper price for %s: %q: %w", symbol, price, err)
	}
	if n <= 0 {
		return "", fmt.Errorf("paper price for %s: %q: want a price > 0", symbol, price)
	}
	return formatE8(n), nil
}
