// Package policy is the trading policy document: its fields, validation,
// canonical encoding, SHA-256 hash, Ed25519 signature and verification.
//
// The package is pure: no I/O but reading key files, no clock of its own
// (the time is passed in). Redis storage lives in package policystore.
//
// A policy travels as a flat map of text fields (the Redis hash
// quantum:policy:current, SPEC.md). Verify turns such a map into a Signed
// policy or an error carrying exactly one reason code; there is no default
// for any field and no partial result.
package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Field names of the policy hash (SPEC.md). Keep them exactly.
const (
	FieldUniverseSymbols    = "universe_symbols"
	FieldLeverageBySymbol   = "leverage_by_symbol"
	FieldHarvestParams      = "harvest_params"
	FieldKillParams         = "kill_params"
	FieldValidUntil         = "valid_until_epoch"
	FieldVersion            = "policy_version"
	FieldSeq                = "policy_seq"
	FieldIssuedAt           = "issued_at_epoch"
	FieldGenerator          = "generator"
	FieldTradingState       = "trading_state"
	FieldHash               = "policy_hash"
	FieldSignature          = "signature"
	FieldKeyID              = "key_id"
	FieldMaxNotional        = "max_notional_usdt_by_symbol"
	FieldMaxOrdersPerMinute = "max_orders_per_minute"
	FieldEncoding           = "policy_encoding" // "v2"; absent in v1 policies

	// Exposure limits and the daily loss stop (issue 15), optional.
	FieldMaxPositionNotional = "max_position_notional_usdt_by_symbol"
	FieldMaxGrossExposure    = "max_gross_exposure_usdt"
	FieldMaxOpenPositions    = "max_open_positions"
	FieldMaxDailyLoss        = "max_daily_loss_usdt"
)

// RequiredFields must be present in every stored policy: the six fields the
// Python services read, and the ones this project always writes. A reader
// refuses a policy lacking any of them with POLICY_MISSING_FIELD. The
// signature fields are checked apart (POLICY_UNSIGNED).
var RequiredFields = []string{
	FieldUniverseSymbols, FieldLeverageBySymbol, FieldHarvestParams, FieldKillParams,
	FieldValidUntil, FieldVersion,
	FieldSeq, FieldIssuedAt, FieldGenerator, FieldTradingState, FieldHash,
}

// OptionalFields are the optional limits a policy may carry.
var OptionalFields = []string{FieldMaxNotional, FieldMaxOrdersPerMinute,
	FieldMaxPositionNotional, FieldMaxGrossExposure, FieldMaxOpenPositions, FieldMaxDailyLoss}

// SignatureFields are the fields outside the canonical encoding.
var SignatureFields = []string{FieldHash, FieldSignature, FieldKeyID, FieldEncoding}

// Known reports whether name is a field of the policy hash: required,
// optional or signature. The field set is closed: Verify refuses a policy
// with any other field (POLICY_INVALID), signed or not.
func Known(name string) bool {
	return slices.Contains(RequiredFields, name) || slices.Contains(OptionalFields, name) ||
		slices.Contains(SignatureFields, name)
}

// TradingState is what the policy allows: everything, only position
// reductions, or nothing.
type TradingState string

// The three trading states.
const (
	StateActive   TradingState = "ACTIVE"
	StateReducing TradingState = "REDUCING"
	StateHalted   TradingState = "HALTED"
)

// Valid reports whether s is one of the three states.
func (s TradingState) Valid() bool {
	return s == StateActive || s == StateReducing || s == StateHalted
}

// Policy is the content of a policy: everything but its hash and signature.
//
// Optional limits are absent when nil (MaxNotionalUSDTBySymbol) or zero
// (MaxOrdersPerMinute); validation refuses a present limit that is not
// positive, so zero never means "zero allowed" and never widens anything.
type Policy struct {
	UniverseSymbols  []string           // tradable symbols, in the order given
	LeverageBySymbol map[string]int     // max leverage per symbol, 1..125
	HarvestParams    map[string]float64 // passed through to the harvest brain
	KillParams       map[string]float64 // passed through to the kill switch
	ValidUntil       int64              // unix seconds; stale from this instant on
	Version          string             // a label such as 1.0.0-ai-v1
	Seq              uint64             // strictly increasing over publishes
	IssuedAt         int64              // unix seconds
	Generator        string             // who built it
	TradingState     TradingState

	MaxNotionalUSDTBySymbol map[string]float64 // optional
	MaxOrdersPerMinute      int                // optional; 0 when absent

	// Exposure limits and the daily loss stop (package gate checks them on
	// entries): optional, absent when nil or zero like the limits above.
	MaxPositionNotionalUSDTBySymbol map[string]float64 // |position| x mark per symbol
	MaxGrossExposureUSDT            float64            // sum over symbols of |position| x mark
	MaxOpenPositions                int                // symbols with a position
	MaxDailyLossUSDT                float64            // loss since 00:00 UTC, realized + unrealized
}

// InUniverse reports whether symbol is tradable under p.
func (p *Policy) InUniverse(symbol string) bool {
	for _, s := range p.UniverseSymbols {
		if s == symbol {
			return true
		}
	}
	return false
}

// LeverageRange returns the lowest and highest leverage of the policy, or
// 0, 0 when it has none.
func (p *Policy) LeverageRange() (lo, hi int) {
	first := true
	for _, l := range p.LeverageBySymbol {
		if first || l < lo {
			lo = l
		}
		if first || l > hi {
			hi = l
		}
		first = false
	}
	return lo, hi
}

// Fields encodes p as the text fields of the policy hash, without the hash
// and signature fields. Lists and maps are compact JSON with sorted keys,
// numbers decimal text: the shape the Python readers already parse.
func (p *Policy) Fields() (map[string]string, error) {
	f := make(map[string]string, 14)
	put := func(name string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		f[name] = string(b)
		return nil
	}
	universe := p.UniverseSymbols
	if universe == nil {
		universe = []string{}
	}
	if err := put(FieldUniverseSymbols, universe); err != nil {
		return nil, err
	}
	if err := put(FieldLeverageBySymbol, nonNil(p.LeverageBySymbol)); err != nil {
		return nil, err
	}
	if err := put(FieldHarvestParams, nonNil(p.HarvestParams)); err != nil {
		return nil, err
	}
	if err := put(FieldKillParams, nonNil(p.KillParams)); err != nil {
		return nil, err
	}
	if p.MaxNotionalUSDTBySymbol != nil {
		if err := put(FieldMaxNotional, p.MaxNotionalUSDTBySymbol); err != nil {
			return nil, err
		}
	}
	if p.MaxOrdersPerMinute != 0 {
		f[FieldMaxOrdersPerMinute] = strconv.Itoa(p.MaxOrdersPerMinute)
	}
	if p.MaxPositionNotionalUSDTBySymbol != nil {
		if err := put(FieldMaxPositionNotional, p.MaxPositionNotionalUSDTBySymbol); err != nil {
			return nil, err
		}
	}
	if p.MaxGrossExposureUSDT != 0 {
		f[FieldMaxGrossExposure] = strconv.FormatFloat(p.MaxGrossExposureUSDT, 'f', -1, 64)
	}
	if p.MaxOpenPositions != 0 {
		f[FieldMaxOpenPositions] = strconv.Itoa(p.MaxOpenPositions)
	}
	if p.MaxDailyLossUSDT != 0 {
		f[FieldMaxDailyLoss] = strconv.FormatFloat(p.MaxDailyLossUSDT, 'f', -1, 64)
	}
	f[FieldValidUntil] = strconv.FormatInt(p.ValidUntil, 10)
	f[FieldVersion] = p.Version
	f[FieldSeq] = strconv.FormatUint(p.Seq, 10)
	f[FieldIssuedAt] = strconv.FormatInt(p.IssuedAt, 10)
	f[FieldGenerator] = p.Generator
	f[FieldTradingState] = string(p.TradingState)
	return f, nil
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// parseFields decodes the content fields of a stored policy. It reports the
// first field that does not parse; content rules are Validate's job.
func parseFields(f map[string]string) (*Policy, error) {
	p := &Policy{
		Version:      f[FieldVersion],
		Generator:    f[FieldGenerator],
		TradingState: TradingState(f[FieldTradingState]),
	}
	if err := json.Unmarshal([]byte(f[FieldUniverseSymbols]), &p.UniverseSymbols); err != nil || p.UniverseSymbols == nil {
		return nil, parseErr(FieldUniverseSymbols, "a JSON list of symbols", err)
	}
	var lev map[string]float64
	if err := json.Unmarshal([]byte(f[FieldLeverageBySymbol]), &lev); err != nil || lev == nil {
		return nil, parseErr(FieldLeverageBySymbol, "a JSON object symbol -> number", err)
	}
	p.LeverageBySymbol = make(map[string]int, len(lev))
	for sym, l := range lev {
		if l != math.Trunc(l) || l < -1e6 || l > 1e6 {
			return nil, parseErr(FieldLeverageBySymbol, fmt.Sprintf("whole numbers (%s is %v)", sym, l), nil)
		}
		p.LeverageBySymbol[sym] = int(l)
	}
	if err := json.Unmarshal([]byte(f[FieldHarvestParams]), &p.HarvestParams); err != nil || p.HarvestParams == nil {
		return nil, parseErr(FieldHarvestParams, "a JSON object name -> number", err)
	}
	if err := json.Unmarshal([]byte(f[FieldKillParams]), &p.KillParams); err != nil || p.KillParams == nil {
		return nil, parseErr(FieldKillParams, "a JSON object name -> number", err)
	}
	if v, ok := f[FieldMaxNotional]; ok {
		if err := json.Unmarshal([]byte(v), &p.MaxNotionalUSDTBySymbol); err != nil || p.MaxNotionalUSDTBySymbol == nil {
			return nil, parseErr(FieldMaxNotional, "a JSON object symbol -> number", err)
		}
	}
	if v, ok := f[FieldMaxOrdersPerMinute]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, parseErr(FieldMaxOrdersPerMinute, "an integer", err)
		}
		if n == 0 {
			return nil, parseErr(FieldMaxOrdersPerMinute, "a positive integer (omit the field for no limit)", nil)
		}
		p.MaxOrdersPerMinute = n
	}
	if err := parseExposure(f, p); err != nil {
		return nil, err
	}
	var err error
	if p.ValidUntil, err = strconv.ParseInt(f[FieldValidUntil], 10, 64); err != nil {
		return nil, parseErr(FieldValidUntil, "unix seconds", err)
	}
	if p.IssuedAt, err = strconv.ParseInt(f[FieldIssuedAt], 10, 64); err != nil {
		return nil, parseErr(FieldIssuedAt, "unix seconds", err)
	}
	var ok bool
	if p.Seq, ok = ParseSeq(f[FieldSeq]); !ok {
		return nil, parseErr(FieldSeq, fmt.Sprintf("a plain decimal 1..%d without sign or leading zero", uint64(MaxSeq)), nil)
	}
	return p, nil
}

// parseExposure decodes the optional exposure limits. A present limit must
// parse and be positive: zero or an empty text never reads as "no limit".
func parseExposure(f map[string]string, p *Policy) error {
	if v, ok := f[FieldMaxPositionNotional]; ok {
		if err := json.Unmarshal([]byte(v), &p.MaxPositionNotionalUSDTBySymbol); err != nil || p.MaxPositionNotionalUSDTBySymbol == nil {
			return parseErr(FieldMaxPositionNotional, "a JSON object symbol -> number", err)
		}
	}
	for _, name := range []string{FieldMaxGrossExposure, FieldMaxDailyLoss} {
		v, ok := f[name]
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return parseErr(name, "a decimal number of USDT", err)
		}
		if x == 0 {
			return parseErr(name, "a positive number (omit the field for no limit)", nil)
		}
		if name == FieldMaxGrossExposure {
			p.MaxGrossExposureUSDT = x
		} else {
			p.MaxDailyLossUSDT = x
		}
	}
	if v, ok := f[FieldMaxOpenPositions]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return parseErr(FieldMaxOpenPositions, "an integer", err)
		}
		if n == 0 {
			return parseErr(FieldMaxOpenPositions, "a positive integer (omit the field for no limit)", nil)
		}
		p.MaxOpenPositions = n
	}
	return nil
}

func parseErr(field, want string, err error) error {
	if err != nil {
		return fmt.Errorf("field %s: want %s: %w", field, want, err)
	}
	return fmt.Errorf("field %s: want %s", field, want)
}

// UniverseOf reads universe_symbols of a policy hash as read, not
// verified: for readers that only look (reconciliation reads the venue, so
// a wrong list can only miss orphans), never for a gate. Nil when the field
// is missing or not a JSON list.
func UniverseOf(fields map[string]string) []string {
	var syms []string
	if err := json.Unmarshal([]byte(fields[FieldUniverseSymbols]), &syms); err != nil {
		return nil
	}
	return syms
}
