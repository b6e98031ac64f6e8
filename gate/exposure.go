package gate

import (
	"math"

	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// Account is the part of the account beyond the plan's own symbol that the
// exposure limits and the loss stop decide on, read by the caller (the
// apply layer reads it from its account reservation and the venue). The
// zero value has read nothing: a limit that needs a part not read denies
// with EXCHANGE_UNAVAILABLE, never passes.
type Account struct {
	Read       bool    // OtherGross and OtherOpen were read
	OtherGross float64 // sum over the other symbols of |position| x mark, USDT, reserved entries included
	OtherOpen  int     // other symbols with a position or a reserved entry
	PnLRead    bool    // DayPnL was read
	DayPnL     float64 // realized since 00:00 UTC + unrealized now, USDT (a loss is negative)
}

// After returns the signed position of the plan's symbol once its order
// and the symbol's orders decided but not yet filled (Input.Pending) have
// filled.
func After(in Input) float64 {
	q := in.Plan.Qty
	if in.Plan.Side == market.Sell {
		q = -q
	}
	return in.Position + in.Pending + q
}

// NeedsAccount reports whether pol sets a limit that is decided on the
// account beyond the plan's symbol (gross exposure, open positions), so
// that a caller reads (and reserves) the account only when it matters.
func NeedsAccount(pol *policy.Policy) bool {
	return pol.MaxGrossExposureUSDT > 0 || pol.MaxOpenPositions > 0
}

// exposure runs the exposure limits and the daily loss stop on an entry (a
// plan that can grow the position), in the order of the package doc.
func exposure(d Decision, in Input, pol *policy.Policy) Decision {
	p := in.Plan
	capSym, hasCap := pol.MaxPositionNotionalUSDTBySymbol[p.Symbol]
	if !hasCap && !NeedsAccount(pol) && pol.MaxDailyLossUSDT <= 0 {
		return d
	}
	before := in.Position + in.Pending
	after := After(in)
	if hasCap || pol.MaxGrossExposureUSDT > 0 {
		if in.MarkPrice <= 0 || math.IsNaN(in.MarkPrice) || math.IsInf(in.MarkPrice, 0) {
			return with(d, reason.ExchangeUnavailable, "no mark price for %s: the exposure limits cannot be checked", p.Symbol)
		}
	}
	notional := math.Abs(after) * in.MarkPrice
	if hasCap && notional > capSym {
		return with(d, reason.PositionNotionalExceedsMax, "position %s after this order would be %.2f USDT (%g at mark %g), above the policy's %.2f",
			p.Symbol, notional, after, in.MarkPrice, capSym)
	}
	if NeedsAccount(pol) && !in.Account.Read {
		return with(d, reason.ExchangeUnavailable, "the account's exposure could not be read: the exposure limits cannot be checked")
	}
	if limit := pol.MaxGrossExposureUSDT; limit > 0 {
		if gross := in.Account.OtherGross + notional; gross > limit {
			return with(d, reason.GrossExposureExceedsMax, "gross exposure after this order would be %.2f USDT (%.2f on other symbols + %.2f on %s), above the policy's %.2f",
				gross, in.Account.OtherGross, notional, p.Symbol, limit)
		}
	}
	if limit := pol.MaxOpenPositions; limit > 0 && before == 0 && after != 0 && in.Account.OtherOpen >= limit {
		return with(d, reason.MaxOpenPositionsReached, "%d positions are open (or reserved): a new one on %s would exceed the policy's %d",
			in.Account.OtherOpen, p.Symbol, limit)
	}
	if limit := pol.MaxDailyLossUSDT; limit > 0 {
		if !in.Account.PnLRead {
			return with(d, reason.ExchangeUnavailable, "the day's PnL could not be read: the daily loss limit cannot be checked")
		}
		if loss := -in.Account.DayPnL; loss >= limit {
			return with(d, reason.DailyLossLimitReached, "the day's loss is %.2f USDT (PnL since 00:00 UTC), at or beyond the policy's %.2f: entries stop until the day ends",
				loss, limit)
		}
	}
	return d
}
