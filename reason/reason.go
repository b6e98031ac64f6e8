// Package reason holds the reason codes of the governance core and the coded
// error that carries them.
//
// A reason code is CATEGORY_CONDITION in upper snake case, one code per
// denial, stable across releases (SPEC.md, "Reason codes"). Codes are added,
// never renamed. Every function that refuses something returns an *Error with
// one of these codes, so that callers (the gate, the CLI, the proofs) can map
// a failure to a code without knowing where it came from.
package reason

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable reason code.
type Code string

// The reason codes of SPEC.md. Keep the names exactly.
const (
	PolicyMissing          Code = "POLICY_MISSING"
	PolicyMissingField     Code = "POLICY_MISSING_FIELD"
	PolicyParseError       Code = "POLICY_PARSE_ERROR"
	PolicyInvalid          Code = "POLICY_INVALID"
	PolicyHashMismatch     Code = "POLICY_HASH_MISMATCH"
	PolicyUnsigned         Code = "POLICY_UNSIGNED"
	PolicySignatureInvalid Code = "POLICY_SIGNATURE_INVALID"
	PolicyStale            Code = "POLICY_STALE"
	PolicyNotYetValid      Code = "POLICY_NOT_YET_VALID"
	PolicyRollback         Code = "POLICY_ROLLBACK"
	PolicyUnavailable      Code = "POLICY_UNAVAILABLE"

	PlanInvalid  Code = "PLAN_INVALID"
	PlanExpired  Code = "PLAN_EXPIRED"
	PlanReplayed Code = "PLAN_REPLAYED"

	AuthMissing       Code = "AUTH_MISSING"
	AuthInvalid       Code = "AUTH_INVALID"
	AuthUnknownSource Code = "AUTH_UNKNOWN_SOURCE"

	TradingHalted        Code = "TRADING_HALTED"
	TradingStateReducing Code = "TRADING_STATE_REDUCING"

	SymbolNotInUniverse        Code = "SYMBOL_NOT_IN_UNIVERSE"
	LeverageExceedsPolicy      Code = "LEVERAGE_EXCEEDS_POLICY"
	PolicyNoLeverageForSymbol  Code = "POLICY_NO_LEVERAGE_FOR_SYMBOL"
	DenyNotExitOwner           Code = "DENY_NOT_EXIT_OWNER"
	ReduceOnlyWouldIncrease    Code = "REDUCE_ONLY_WOULD_INCREASE_POSITION"
	NotionalExceedsMaxPerOrder Code = "NOTIONAL_EXCEEDS_MAX_PER_ORDER"
	RateLimitExceeded          Code = "RATE_LIMIT_EXCEEDED"

	ExchangeRejected    Code = "EXCHANGE_REJECTED"
	ExchangeUnavailable Code = "EXCHANGE_UNAVAILABLE"
)

// Codes added by this project for the policy refresh (issue 5): why a
// refresh was refused, in its audit entry and its POLICY_REFRESH_FAILED
// alert. The refresh also uses the policy codes above (POLICY_PARSE_ERROR
// for output that is not a policy, POLICY_INVALID for one that breaks a
// rule, POLICY_ROLLBACK for a seq conflict, POLICY_UNAVAILABLE for Redis).
const (
	RefreshGeneratorFailed  Code = "REFRESH_GENERATOR_FAILED"   // could not start, or exited non-zero
	RefreshGeneratorTimeout Code = "REFRESH_GENERATOR_TIMEOUT"  // killed after its timeout
	RefreshLeverageAboveCap Code = "REFRESH_LEVERAGE_ABOVE_CAP" // a leverage above --max-leverage
	RefreshValidityTooShort Code = "REFRESH_VALIDITY_TOO_SHORT" // validity < interval + margin
	RefreshConfigInvalid    Code = "REFRESH_CONFIG_INVALID"     // key or template file unusable
	RefreshClockSkew        Code = "REFRESH_CLOCK_SKEW"         // this clock is too far from Redis TIME (issue 16)
	RefreshInterrupted      Code = "REFRESH_INTERRUPTED"        // a run was killed before it finished (its audit entry, issue 16)
)

// Codes added for canary plans: only the proof source may send canaries,
// and it may send nothing else, so that canary=true can neither hide a
// real producer's denials from the exit-owner watch nor the proof key
// place a real order.
const (
	PlanCanaryNotProofSource  Code = "PLAN_CANARY_NOT_PROOF_SOURCE"  // canary=true from a source other than the proof source
	AuthProofSourceCanaryOnly Code = "AUTH_PROOF_SOURCE_CANARY_ONLY" // a plan of the proof source without canary=true
)

// Codes added by this project for the readers' own configuration (issue
// 14): a trusted public key file that is missing, unreadable, writable by
// others or holds no key is not a signature problem, and must not read as
// tampering.
const (
	PolicyKeyUnavailable Code = "POLICY_KEY_UNAVAILABLE"
)

// Codes added for durability before the order (issue 16).
const (
	RedisNotReplicated Code = "REDIS_NOT_REPLICATED" // the execution record did not reach --min-replicas replicas: not sent
)

// All lists every code in the order of SPEC.md, then the codes this project
// added. Tests and documentation iterate over it; adding a code means adding
// it here too.
var All = []Code{
	PolicyMissing, PolicyMissingField, PolicyParseError, PolicyInvalid,
	PolicyHashMismatch, PolicyUnsigned, PolicySignatureInvalid, PolicyStale,
	PolicyNotYetValid, PolicyRollback, PolicyUnavailable,
	PlanInvalid, PlanExpired, PlanReplayed,
	AuthMissing, AuthInvalid, AuthUnknownSource,
	TradingHalted, TradingStateReducing,
	SymbolNotInUniverse, LeverageExceedsPolicy, PolicyNoLeverageForSymbol,
	DenyNotExitOwner, ReduceOnlyWouldIncrease, NotionalExceedsMaxPerOrder,
	RateLimitExceeded, ExchangeRejected, ExchangeUnavailable,
	RefreshGeneratorFailed, RefreshGeneratorTimeout, RefreshLeverageAboveCap,
	RefreshValidityTooShort, RefreshConfigInvalid,
	PlanCanaryNotProofSource, AuthProofSourceCanaryOnly, RedisNotReplicated,
	RefreshClockSkew, RefreshInterrupted,
	PolicyKeyUnavailable,
}

// Error is a refusal with a reason code. Msg says what was wrong in words an
// operator can act on; Err, when set, is the underlying cause.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

// Errorf returns an *Error with code and a formatted message. A %w verb in
// format wraps its argument as the cause, as with fmt.Errorf.
func Errorf(code Code, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{Code: code, Msg: wrapped.Error(), Err: errors.Unwrap(wrapped)}
}

// Error returns "CODE: message".
func (e *Error) Error() string {
	if e.Msg == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &reason.Error{Code: reason.PolicyStale}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Msg == "" && t.Err == nil
}

// CodeOf returns the code of the first *Error in err's chain, or "" when
// there is none. Callers that must decide fail-closed treat "" as a refusal
// with a code of their own choosing, never as success.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
