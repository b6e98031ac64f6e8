// Package plan is the wire format of an order plan on
// quantum:stream:apply.plan: parsing with a PLAN_INVALID reason that names
// the field, the canonical encoding a producer signs, HMAC-SHA256
// signatures, and the keyring of producer secrets.
//
// The fields are those the intent bridge sends today (SPEC.md), plus sig
// and canary. Parsing is strict: a field name outside ^[A-Za-z0-9_]{1,64}$,
// a name sent twice (ParseEntry), a misspelling of a known name (case,
// "_" or "-": reduce_only, Canary) and a number outside the plain decimal
// grammar are PLAN_INVALID naming the field. It stays lenient about the
// spellings the existing producers use for legitimate values (reduceOnly
// "True", "1"; leverage "10.0"), and reads the numbers Python writes
// (qty.go): a quantity in exponent notation ("1e-05") or with more than 18
// decimal places, exactly, and a fractional leverage ("10.5"), rounded
// down to a whole number.
package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/reason"
)

// Field names of a plan entry (SPEC.md). Keep them exactly.
const (
	FieldPlanID     = "plan_id"
	FieldDecision   = "decision"
	FieldSymbol     = "symbol"
	FieldSide       = "side"
	FieldType       = "type"
	FieldQty        = "qty"
	FieldPrice      = "price"
	FieldReduceOnly = "reduceOnly"
	FieldSource     = "source"
	FieldTimestamp  = "timestamp"
	FieldLeverage   = "leverage"
	FieldStopLoss   = "stop_loss"
	FieldTakeProfit = "take_profit"
	FieldAction     = "action"
	FieldSig        = "sig"
	FieldCanary     = "canary"
)

// Decision is what the producer decided: only EXECUTE plans are orders.
type Decision string

// Producer decisions.
const (
	Execute Decision = "EXECUTE"
	Skip    Decision = "SKIP"
	Blocked Decision = "BLOCKED"
)

// Plan is a parsed plan. Fields holds every field as received: the
// signature covers them all.
type Plan struct {
	ID         string
	Decision   Decision
	Symbol     string
	Side       market.Side
	Type       market.OrderType
	Qty        float64 // > 0
	QtyText    string  // passed to the venue: as sent when plain decimal, else its exact plain form (qty.go)
	Price      float64 // LIMIT only
	PriceText  string
	ReduceOnly bool
	Source     string
	Timestamp  time.Time
	Leverage   int // 0 when the plan names none; a fraction is dropped (rounded down: qty.go)
	// LeverageFrac says the plan's leverage had a fraction that Leverage
	// dropped ("10.5" is 10): the gate compares what was asked for with
	// the policy, so 10.5 exceeds a policy's 10.
	LeverageFrac bool
	Action       string
	Sig          string
	Canary       bool
	Fields       map[string]string
}

// The shapes of identifiers. They are checked by hand rather than with
// regexp: Parse runs for every plan, and the gate's budget is 2 µs.
//
//	plan_id ^[A-Za-z0-9._:/-]{1,128}$
//	source  ^[A-Za-z0-9._-]{1,64}$
//	symbol  ^[A-Z0-9]{2,20}$ (market.ValidSymbol)
//	decimal ^[0-9]{1,20}(\.[0-9]{1,18})?$ (no sign, exponent, _ or space):
//	        qty, price, leverage, stop_loss, take_profit, timestamp
func validID(s string) bool { return shape(s, 1, 128, "._:/-", true) }

// ValidSource reports whether s can name a producing service.
func ValidSource(s string) bool { return shape(s, 1, 64, "._-", true) }

// shape reports whether s has min..max bytes, each an upper-case letter, a
// digit, a lower-case letter when lower, or one of extra.
func shape(s string, min, max int, extra string, lower bool) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case lower && c >= 'a' && c <= 'z':
		case strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

func validDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return shape(whole, 1, 20, "", false) && onlyDigits(whole) &&
		(!dot || shape(frac, 1, 18, "", false) && onlyDigits(frac))
}

// notDecimal is the error of a number outside the plain decimal grammar,
// saying how to write it.
func notDecimal(field, v, want string) error {
	hint := ""
	if strings.ContainsAny(v, "eE") && !strings.ContainsAny(v, "xX") {
		hint = " (format it without an exponent: Python f\"{x:f}\" or str(Decimal), never repr of a float)"
	}
	return invalid(field, "want %s in plain decimal (digits, an optional . and up to 18 digits; no sign, exponent, _ or space), got %q%s", want, clip(v), hint)
}

func onlyDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func invalid(field, format string, args ...any) error {
	return reason.Errorf(reason.PlanInvalid, "field %s: %s", field, fmt.Sprintf(format, args...))
}

// ParseEntry reads a stream entry as Redis returns it: field, value,
// field, value, ... in the order sent. A field name sent twice is
// PLAN_INVALID (a map keeps one copy, and a person reading the entry
// may see the other); otherwise it is Parse.
func ParseEntry(pairs []string) (*Plan, error) {
	if len(pairs)%2 != 0 {
		return nil, reason.Errorf(reason.PlanInvalid, "entry has %d strings, not field/value pairs", len(pairs))
	}
	f := make(map[string]string, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		name := pairs[i]
		if _, dup := f[name]; dup {
			return nil, invalid(Clip(name), "sent twice in one entry (a plan carries each field once)")
		}
		f[name] = pairs[i+1]
	}
	return Parse(f)
}

// Parse reads a plan entry. A plan that cannot be gated gets PLAN_INVALID
// naming the first bad field. Every field name must match
// ^[A-Za-z0-9_]{1,64}$ and must not be a misspelling of a known one.
// SKIP and BLOCKED plans need only plan_id, decision, source and timestamp
// (they are recorded, never executed); EXECUTE plans need every order field.
func Parse(f map[string]string) (*Plan, error) {
	// One pass over the map picks the known fields: Parse runs for every
	// plan, and map lookups are a good part of its cost.
	var raw [numKnown]string
	var seen [numKnown]bool
	bad, anyBad := "", false // the first bad name in byte order, for a stable message
	for k, v := range f {
		if i := knownIndex(k); i >= 0 {
			raw[i], seen[i] = v, true
			continue
		}
		if (!canon.ValidName(k) || nearMiss(k) >= 0) && (!anyBad || k < bad) {
			bad, anyBad = k, true
		}
	}
	if anyBad {
		return nil, badName(bad)
	}
	p := &Plan{Fields: f}
	p.ID = raw[iPlanID]
	if !validID(p.ID) {
		return nil, invalid(FieldPlanID, "want 1-128 of [A-Za-z0-9._:/-], got %q", clip(p.ID))
	}
	p.Source = raw[iSource]
	if !ValidSource(p.Source) {
		return nil, invalid(FieldSource, "want 1-64 of [A-Za-z0-9._-], got %q", clip(p.Source))
	}
	switch d := Decision(upper(raw[iDecision])); d {
	case Execute, Skip, Blocked:
		p.Decision = d
	default:
		return nil, invalid(FieldDecision, "want EXECUTE, SKIP or BLOCKED, got %q", clip(raw[iDecision]))
	}
	p.Sig = raw[iSig]
	p.Action = raw[iAction]
	p.Symbol = raw[iSymbol]
	var err error
	if p.Canary, err = parseBool(FieldCanary, raw[iCanary]); err != nil {
		return nil, err
	}
	if p.Timestamp, err = parseTimestamp(raw[iTimestamp]); err != nil {
		return nil, err
	}
	if p.Decision != Execute {
		return p, nil
	}
	if !market.ValidSymbol(p.Symbol) {
		return nil, invalid(FieldSymbol, "want ^[A-Z0-9]{2,20}$, got %q", clip(p.Symbol))
	}
	switch s := market.Side(upper(raw[iSide])); s {
	case market.Buy, market.Sell:
		p.Side = s
	default:
		return nil, invalid(FieldSide, "want BUY or SELL, got %q", clip(raw[iSide]))
	}
	switch t := market.OrderType(upper(raw[iType])); t {
	case market.Market, market.Limit:
		p.Type = t
	default:
		return nil, invalid(FieldType, "want MARKET or LIMIT, got %q", clip(raw[iType]))
	}
	if p.Qty, p.QtyText, err = parseQty(raw[iQty]); err != nil {
		return nil, err
	}
	if p.Type == market.Limit {
		if p.Price, p.PriceText, err = parseDecimal(FieldPrice, raw[iPrice]); err != nil {
			return nil, err
		}
	} else if v := raw[iPrice]; v != "" && v != "0" {
		return nil, invalid(FieldPrice, "a MARKET plan has no price, got %q", clip(v))
	}
	if p.ReduceOnly, err = parseBool(FieldReduceOnly, raw[iReduceOnly]); err != nil {
		return nil, err
	}
	if v := raw[iLeverage]; v != "" {
		if p.Leverage, p.LeverageFrac, err = parseLeverage(v); err != nil {
			return nil, err
		}
	}
	for _, i := range []int{iStopLoss, iTakeProfit} {
		if v := raw[i]; v != "" && !validDecimal(v) {
			return nil, notDecimal(knownFields[i], v, "a price >= 0")
		}
	}
	return p, nil
}

// The fields Parse reads, by index.
const (
	iPlanID = iota
	iDecision
	iSymbol
	iSide
	iType
	iQty
	iPrice
	iReduceOnly
	iSource
	iTimestamp
	iLeverage
	iStopLoss
	iTakeProfit
	iAction
	iSig
	iCanary
	numKnown
)

var knownFields = [numKnown]string{
	FieldPlanID, FieldDecision, FieldSymbol, FieldSide, FieldType, FieldQty, FieldPrice, FieldReduceOnly,
	FieldSource, FieldTimestamp, FieldLeverage, FieldStopLoss, FieldTakeProfit, FieldAction, FieldSig, FieldCanary,
}

func knownIndex(name string) int {
	switch name { // a switch compiles to a search on length and bytes
	case FieldPlanID:
		return iPlanID
	case FieldDecision:
		return iDecision
	case FieldSymbol:
		return iSymbol
	case FieldSide:
		return iSide
	case FieldType:
		return iType
	case FieldQty:
		return iQty
	case FieldPrice:
		return iPrice
	case FieldReduceOnly:
		return iReduceOnly
	case FieldSource:
		return iSource
	case FieldTimestamp:
		return iTimestamp
	case FieldLeverage:
		return iLeverage
	case FieldStopLoss:
		return iStopLoss
	case FieldTakeProfit:
		return iTakeProfit
	case FieldAction:
		return iAction
	case FieldSig:
		return iSig
	case FieldCanary:
		return iCanary
	}
	return -1
}

// upper upper-cases ASCII without allocating when s already is.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

// parseDecimal reads a positive decimal quantity or price.
func parseDecimal(field, v string) (float64, string, error) {
	if v == "" {
		return 0, "", invalid(field, "missing")
	}
	if !validDecimal(v) {
		return 0, "", notDecimal(field, v, "a positive decimal such as 0.015")
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x <= 0 || math.IsInf(x, 0) {
		return 0, "", invalid(field, "want a positive decimal, got %q", clip(v))
	}
	return x, v, nil
}

// parseBool reads the spellings producers use: true/false, True/False, 1/0.
// An absent field is false.
func parseBool(field, v string) (bool, error) {
	switch v {
	case "", "false", "False", "FALSE", "0":
		return false, nil
	case "true", "True", "TRUE", "1":
		return true, nil
	}
	return false, invalid(field, "want true or false, got %q", clip(v))
}

// parseTimestamp reads unix seconds, whole or fractional (Python's
// time.time()).
func parseTimestamp(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, invalid(FieldTimestamp, "missing")
	}
	if !validDecimal(v) {
		return time.Time{}, notDecimal(FieldTimestamp, v, "unix seconds such as 1780000000 or 1780000000.25")
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x < 1e9 || x > 1e11 {
		return time.Time{}, invalid(FieldTimestamp, "want unix seconds, got %q", clip(v))
	}
	sec, frac := math.Modf(x)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// badName is the error of a field name that is not ^[A-Za-z0-9_]{1,64}$
// or is a misspelling of a known field.
func badName(name string) error {
	if i := nearMiss(name); i >= 0 {
		return invalid(strconv.Quote(Clip(name)), "not a field: the field is spelt %s", knownFields[i])
	}
	return invalid(strconv.Quote(Clip(name)), "a field name is ^[A-Za-z0-9_]{1,64}$")
}

// nearMiss returns the index of the known field that name spells
// differently (case, "_", "-"), or -1.
func nearMiss(name string) int {
	if len(name) > 2*canon.MaxNameBytes {
		return -1
	}
	var buf [2 * canon.MaxNameBytes]byte
	n := fold(buf[:0], name)
	for i, k := range knownFields {
		if string(fold(buf[len(n):len(n)], k)) == string(n) && k != name {
			return i
		}
	}
	return -1
}

// fold lower-cases s and drops "_" and "-".
func fold(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_' || c == '-':
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// MaxEcho is how many bytes of hostile input Clip keeps.
const MaxEcho = 64

// Clip shortens hostile input before it reaches a message, a result, a log
// line or an alert: at most MaxEcho bytes (cut on a rune boundary) then
// "...". Use it on every plan value that is echoed.
func Clip(s string) string {
	if len(s) <= MaxEcho {
		return s
	}
	cut := MaxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// clip is Clip, for the messages of this package.
func clip(s string) string { return Clip(s) }

// SafeLabel returns a label such as action for echoing: clipped, every
// byte outside [A-Za-z0-9._:-] replaced by "?", so that a hostile value
// cannot forge a log field, a line or a terminal escape. The plan's own
// value (signed) is left as it is.
func SafeLabel(s string) string {
	s = Clip(s)
	for i := 0; i < len(s); i++ {
		if !labelByte(s[i]) {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if !labelByte(b[j]) {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}

func labelByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
}
