// Package gate decides whether a plan may become an order. It is pure: no
// I/O and no clock of its own (the time is passed in), so every reason code
// is a table test, and the same code runs in the apply layer, the proofs
// and quantum dev.
//
// The checks run in a fixed order and the first that fails decides:
//
//	Authenticate: the source's HMAC signature (AUTH_MISSING, AUTH_UNKNOWN_SOURCE, AUTH_INVALID)
//	Canary:       only the proof source sends canaries, and only canaries
//	              (PLAN_CANARY_NOT_PROOF_SOURCE, AUTH_PROOF_SOURCE_CANARY_ONLY)
//	Fresh:        the plan's timestamp within the window (PLAN_EXPIRED)
//	  (replay protection on plan_id is the apply layer's, since it needs Redis: PLAN_REPLAYED)
//	Check:        policy (its own POLICY_* code; expiry re-checked against now)
//	              trading state (TRADING_HALTED, TRADING_STATE_REDUCING)
//	              universe (SYMBOL_NOT_IN_UNIVERSE)
//	              leverage (POLICY_NO_LEVERAGE_FOR_SYMBOL, LEVERAGE_EXCEEDS_POLICY)
//	              exit ownership (DENY_NOT_EXIT_OWNER)
//	              reduce-only sanity (REDUCE_ONLY_WOULD_INCREASE_POSITION)
//	              notional per order (NOTIONAL_EXCEEDS_MAX_PER_ORDER, EXCHANGE_UNAVAILABLE without a price)
//	              on entries only (a plan that is not reducing), the exposure limits:
//	              position notional after the order, pending orders of the symbol
//	              included (POSITION_NOTIONAL_EXCEEDS_MAX), gross exposure after it
//	              (GROSS_EXPOSURE_EXCEEDS_MAX), a new position beyond the count
//	              (MAX_OPEN_POSITIONS_REACHED), the day's loss at or beyond the limit
//	              (DAILY_LOSS_LIMIT_REACHED); a limit whose input was not read:
//	              EXCHANGE_UNAVAILABLE
//	  (the order rate limit is the apply layer's, since it is shared state: RATE_LIMIT_EXCEEDED;
//	  so is the account reservation that makes the gross and count limits atomic across replicas)
//
// An exit is a plan with reduceOnly, or a plan on the side opposite to the
// current position (it would reduce, close or flip it) whatever its flag
// says. Only the exit owner, and configured break-glass sources, may exit.
//
// A plan is reducing when it is an exit that cannot grow the position: on
// the opposite side and, without the reduceOnly flag, no larger than the
// position. Reducing plans from the owner pass the universe, leverage and
// notional checks (a symbol dropped from the universe, or a position above
// today's notional cap, must still be closable) but never the trading state
// HALTED nor the ownership check.
package gate

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// DefaultExitOwner is the only service that may close positions.
const DefaultExitOwner = "exitbrain_v3_5"

// DefaultProofSource is the source whose key signs the proofs' canary plans
// (QUANTUM_PROOF_KEY_FILE holds its keyring line).
const DefaultProofSource = "quantum_proof"

// Config is the gate's fixed configuration.
type Config struct {
	ExitOwner  string          // required; see DefaultExitOwner
	BreakGlass map[string]bool // other sources allowed to exit, each with its own key
	Freshness  time.Duration   // allowed |now - timestamp|
	// ProofSource is the only source that may send canary plans, and it
	// may send nothing else; "" means DefaultProofSource.
	ProofSource string
}

// proofSource returns the configured proof source.
func (c Config) proofSource() string {
	if c.ProofSource == "" {
		return DefaultProofSource
	}
	return c.ProofSource
}

// Decision is the gate's verdict. The zero value denies nothing and allows
// nothing: callers test Allow.
type Decision struct {
	Allow    bool
	Code     reason.Code // set when !Allow
	Msg      string      // why, for the result's detail and the log
	Exit     bool        // the plan would reduce, close or flip a position
	Reducing bool        // the plan cannot grow the position
}

func deny(code reason.Code, format string, args ...any) Decision {
	return Decision{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Authenticate checks that the plan's sig is the HMAC of its fields with
// its source's own secret.
func Authenticate(p *plan.Plan, ring *plan.Secrets) Decision {
	if p.Sig == "" {
		return deny(reason.AuthMissing, "plan %s from %s has no sig", p.ID, p.Source)
	}
	known, ok := ring.Verify(p.Source, p.Fields, p.Sig)
	if !known {
		return deny(reason.AuthUnknownSource, "source %s has no key in the keyring", p.Source)
	}
	if !ok {
		return deny(reason.AuthInvalid, "sig of plan %s does not verify with the key of source %s", p.ID, p.Source)
	}
	return Decision{Allow: true}
}

// Canary checks, on an authenticated plan, that canary=true comes only from
// the proof source and that the proof source sends only canaries: a canary
// from anyone else could hide its ownership denials from the watch (which
// counts canaries apart), and the proof key must never place an order.
func Canary(p *plan.Plan, cfg Config) Decision {
	proof := cfg.proofSource()
	switch {
	case p.Canary && p.Source != proof:
		return deny(reason.PlanCanaryNotProofSource, "canary=true from %s: only %s may send canary plans", p.Source, proof)
	case !p.Canary && p.Source == proof:
		return deny(reason.AuthProofSourceCanaryOnly, "%s may send canary plans only (canary=true)", proof)
	}
	return Decision{Allow: true}
}

// Fresh checks the plan's timestamp against now.
func Fresh(p *plan.Plan, now time.Time, window time.Duration) Decision {
	if d := now.Sub(p.Timestamp); d > window || d < -window {
		return deny(reason.PlanExpired, "timestamp is %s from now, outside ±%s", d.Round(time.Millisecond), window)
	}
	return Decision{Allow: true}
}

// Input is what Check decides on.
type Input struct {
	Plan      *plan.Plan
	Policy    *policy.Signed // nil when PolicyErr is set
	PolicyErr error          // why there is no policy
	Position  float64        // signed position in the plan's symbol
	MarkPrice float64        // 0 when the venue has none
	Now       time.Time

	// Pending is the signed quantity of the symbol's orders decided but not
	// yet filled (resting entries), counted in the position after an entry.
	Pending float64
	// Account is the rest of the account, for the exposure limits and the
	// daily loss stop; its zero value denies any such limit the policy sets.
	Account Account
}

// Check runs the policy, state, universe, leverage, ownership, reduce-only,
// notional and (on entries) exposure checks on an EXECUTE plan, in that
// order.
func Check(in Input, cfg Config) Decision {
	p, pol := in.Plan, in.Policy
	if pol == nil {
		code := reason.CodeOf(in.PolicyErr)
		if code == "" {
			code = reason.PolicyUnavailable
		}
		return deny(code, "no valid policy: %v", in.PolicyErr)
	}
	if in.Now.Unix() >= pol.ValidUntil {
		return deny(reason.PolicyStale, "policy %d expired at %d", pol.Seq, pol.ValidUntil)
	}

	opposite, exit, reducing := classify(in)
	d := Decision{Exit: exit, Reducing: reducing}

	switch pol.TradingState {
	case policy.StateActive:
	case policy.StateHalted:
		return with(d, reason.TradingHalted, "trading_state is HALTED: no order passes")
	case policy.StateReducing:
		if !reducing {
			return with(d, reason.TradingStateReducing, "trading_state is REDUCING: only position-reducing orders pass")
		}
	default: // Verify refuses any other state; fail closed all the same.
		return with(d, reason.PolicyInvalid, "unknown trading_state %q", pol.TradingState)
	}

	owner := p.Source == cfg.ExitOwner || cfg.BreakGlass[p.Source]
	exempt := reducing && owner
	if !exempt {
		if !pol.InUniverse(p.Symbol) {
			return with(d, reason.SymbolNotInUniverse, "%s is not in the policy universe", p.Symbol)
		}
		maxLev, ok := pol.LeverageBySymbol[p.Symbol]
		if !ok {
			return with(d, reason.PolicyNoLeverageForSymbol, "the policy has no leverage for %s", p.Symbol)
		}
		// What the plan asked for counts, fraction included: 10.5 exceeds a
		// policy's 10 though 10 would be sent (plan/qty.go).
		if p.Leverage > maxLev || p.Leverage == maxLev && p.LeverageFrac {
			asked := plan.Clip(p.Fields[plan.FieldLeverage])
			if asked == "" {
				asked = strconv.Itoa(p.Leverage)
			}
			return with(d, reason.LeverageExceedsPolicy, "leverage %s exceeds the policy's %d for %s", asked, maxLev, p.Symbol)
		}
	}
	if exit && !owner {
		return with(d, reason.DenyNotExitOwner, "source %s may not exit %s: only %s may", p.Source, p.Symbol, cfg.ExitOwner)
	}
	if p.ReduceOnly && !opposite {
		return with(d, reason.ReduceOnlyWouldIncrease, "reduceOnly %s with position %g would open or increase it", p.Side, in.Position)
	}
	if !exempt {
		if maxNotional, ok := pol.MaxNotionalUSDTBySymbol[p.Symbol]; ok {
			price := in.MarkPrice
			if p.Type == market.Limit {
				price = p.Price
			}
			if price <= 0 {
				return with(d, reason.ExchangeUnavailable, "no mark price for %s: the notional limit cannot be checked", p.Symbol)
			}
			if n := p.Qty * price; n > maxNotional {
				return with(d, reason.NotionalExceedsMaxPerOrder, "notional %.2f USDT exceeds the policy's %.2f for %s", n, maxNotional, p.Symbol)
			}
		}
	}
	if !reducing {
		if d = exposure(d, in, &pol.Policy); d.Code != "" {
			return d
		}
	}
	d.Allow = true
	return d
}

// classify tells whether the plan's side is against the position, whether
// it is an exit (reduce-only, or against the position) and whether it is
// reducing (it cannot grow the position).
func classify(in Input) (opposite, exit, reducing bool) {
	p := in.Plan
	opposite = (in.Position > 0 && p.Side == market.Sell) || (in.Position < 0 && p.Side == market.Buy)
	return opposite, p.ReduceOnly || opposite, opposite && (p.ReduceOnly || qtyAtMost(p.QtyText, in.Position))
}

// Reducing reports whether in's plan cannot grow the position it is
// decided against (Decision.Reducing): such a plan is never checked
// against the exposure limits or the loss stop, so a caller need not read
// what they need.
func Reducing(in Input) bool {
	_, _, reducing := classify(in)
	return reducing
}

// qtyAtMost reports whether the decimal quantity q is at most |pos|,
// exactly: no tolerance, so no dust amount lets an order flip a position
// while it passes as reducing. The position's float is read as the
// shortest decimal that gives it back (what the venue's decimal text
// parsed to); an unreadable quantity is not at most anything.
func qtyAtMost(q string, pos float64) bool {
	qr, ok := new(big.Rat).SetString(q)
	if !ok {
		return false
	}
	pr, ok := new(big.Rat).SetString(strconv.FormatFloat(math.Abs(pos), 'f', -1, 64))
	return ok && qr.Cmp(pr) <= 0
}

func with(d Decision, code reason.Code, format string, args ...any) Decision {
	d.Code, d.Msg = code, fmt.Sprintf(format, args...)
	return d
}
