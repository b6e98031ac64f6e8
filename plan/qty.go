package plan

import (
	"strconv"
	"strings"
)

// The numbers Python producers write (issue 13, LEGACY.md): intent_bridge
// sends qty = str(position_usd * leverage / price) and leverage =
// str(float(...)). Python's str of a float is its shortest repr: plain
// decimal between 1e-4 and 1e16 (up to 20 decimal places, e.g.
// "0.00012345678901234567"), exponent notation outside ("1e-05",
// "1.5384615384615385e-05", "1e+16"); Decimal's str writes "1E-7". Each is
// read here exactly, as decimal text, never through a float:
//
//   - a quantity in exponent notation, or with more than MaxQtyDecimals
//     places, is rewritten as the plain decimal of the same value, with
//     the digits beyond the 18th decimal place dropped (rounded down). No
//     venue's step is that fine (the paper venue's finest is 1e-8,
//     Binance's stepSize too), so rounding the plain text down to the
//     symbol's step afterwards, as the venue does, gives what rounding
//     the exact value down would: never more than the plan asked for.
//     A quantity that is 0 at 18 places (1e-19) is PLAN_INVALID: below any
//     step. A plain decimal of up to 18 places is passed on as sent.
//   - a leverage with a fraction ("10.5") is rounded down to the whole
//     number (10): Binance's leverage is an integer, and a lower leverage
//     on the same order only holds more margin (the liquidation price
//     moves away), so it never raises the risk. The gate compares the
//     leverage asked for, fraction included, with the policy's: 10.5
//     exceeds a policy's 10 (LEVERAGE_EXCEEDS_POLICY) even though 10 would
//     be sent. The result records both (requested_leverage, leverage), as
//     it does for the quantity (requested_qty, qty). Denying a fractional
//     leverage instead would have turned away today's producers for no
//     gain in safety.

// Limits of a quantity's text.
const (
	// MaxQtyDecimals is the number of decimal places a quantity keeps.
	MaxQtyDecimals = 18
	// MaxQtyIntDigits bounds the integer part (about 1e20).
	MaxQtyIntDigits = 20
	// maxNumberBytes bounds a number's text, as the venues do.
	maxNumberBytes = 64
	// maxExponentDigits bounds an exponent ("e-324" is Python's smallest).
	maxExponentDigits = 3
)

// parseQty reads a positive quantity: plain decimal as sent, or any
// number Python writes, rewritten exactly as plain decimal (see above).
func parseQty(v string) (float64, string, error) {
	if v == "" {
		return 0, "", invalid(FieldQty, "missing")
	}
	if validDecimal(v) {
		return parseDecimal(FieldQty, v)
	}
	text, err := PlainQty(v)
	if err != nil {
		return 0, "", err
	}
	x, perr := strconv.ParseFloat(text, 64)
	if perr != nil || x <= 0 {
		return 0, "", invalid(FieldQty, "want a positive decimal, got %q", clip(v))
	}
	return x, text, nil
}

// PlainQty returns the plain decimal text of a quantity written as Python
// writes numbers (digits, an optional "." and digits, an optional exponent
// [eE][+-]?digits), exactly, with the digits beyond the 18th decimal place
// dropped (rounded down, never up) and no trailing zeros after the point.
// It refuses a sign, a space, "5.", ".5", hex, NaN and Inf, a value that is
// 0 at 18 places, and one of more than 20 integer digits, as PLAN_INVALID
// naming qty.
func PlainQty(v string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", invalid(FieldQty, format, args...)
	}
	if len(v) > maxNumberBytes {
		return bad("want at most %d characters, got %d", maxNumberBytes, len(v))
	}
	mant, exp := v, 0
	if i := strings.IndexAny(v, "eE"); i >= 0 {
		e, neg := v[i+1:], false
		if e != "" && (e[0] == '-' || e[0] == '+') {
			e, neg = e[1:], e[0] == '-'
		}
		if e == "" || len(e) > maxExponentDigits || !onlyDigits(e) {
			return bad("want a decimal such as 0.015 or 1e-05 (an exponent of 1 to %d digits), got %q", maxExponentDigits, clip(v))
		}
		n, _ := strconv.Atoi(e)
		if neg {
			n = -n
		}
		mant, exp = v[:i], n
	}
	whole, frac, dot := strings.Cut(mant, ".")
	if whole == "" || !onlyDigits(whole) || dot && (frac == "" || !onlyDigits(frac)) {
		return bad("want a positive decimal such as 0.015 or 1e-05 (digits, an optional . and digits, an optional exponent; no sign, _ or space), got %q", clip(v))
	}
	// value = digits × 10^-scale
	digits := strings.TrimLeft(whole+frac, "0")
	scale := len(frac) - exp
	if digits == "" {
		return bad("want a quantity > 0, got %q", clip(v))
	}
	if intDigits := len(digits) - scale; intDigits > MaxQtyIntDigits {
		return bad("want at most %d integer digits, got %q (%d)", MaxQtyIntDigits, clip(v), intDigits)
	}
	if scale <= 0 {
		return digits + strings.Repeat("0", -scale), nil
	}
	if scale > MaxQtyDecimals { // drop the places beyond the 18th: round down
		drop := scale - MaxQtyDecimals
		if drop >= len(digits) {
			return bad("%q is below 1e-%d, finer than any venue's step", clip(v), MaxQtyDecimals)
		}
		digits, scale = digits[:len(digits)-drop], MaxQtyDecimals
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	intPart, fracPart := digits[:len(digits)-scale], strings.TrimRight(digits[len(digits)-scale:], "0")
	if fracPart == "" {
		if strings.Trim(intPart, "0") == "" {
			return bad("%q is below 1e-%d, finer than any venue's step", clip(v), MaxQtyDecimals)
		}
		return intPart, nil
	}
	return intPart + "." + fracPart, nil
}

// MaxLeverage bounds a plan's leverage (Binance's highest is 125).
const MaxLeverage = 1000

// parseLeverage reads a leverage in plain decimal and rounds it down to a
// whole number (see above); frac says a fraction was dropped.
func parseLeverage(v string) (lev int, frac bool, err error) {
	const want = "a number >= 1 such as 10 or 10.5 (rounded down to a whole number)"
	if !validDecimal(v) {
		return 0, false, notDecimal(FieldLeverage, v, want)
	}
	whole, fraction, _ := strings.Cut(v, ".")
	whole = strings.TrimLeft(whole, "0")
	n, aerr := strconv.Atoi(whole)
	if whole == "" {
		n, aerr = 0, nil
	}
	if aerr != nil || len(whole) > 4 || n < 1 || n > MaxLeverage {
		return 0, false, invalid(FieldLeverage, "want %s, at most %d, got %q", want, MaxLeverage, clip(v))
	}
	return n, strings.Trim(fraction, "0") != "", nil
}
