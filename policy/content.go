package policy

import (
	"io"
	"math"
	"time"

	"github.com/quantumtrader/quantum/reason"
)

// Content is the part of a policy a person or a generator writes, as JSON
// with native types: the input of `quantum policy publish` and of the
// refresh. The seq, issue time, hash and signature are stamped on top of it
// (Build); valid_until_epoch may be given, else it is issue time + validity.
//
// trading_state has no default: a policy file must say ACTIVE, REDUCING or
// HALTED, so that a forgotten line never opens trading.
type Content struct {
	UniverseSymbols         []string           `json:"universe_symbols"`
	LeverageBySymbol        map[string]float64 `json:"leverage_by_symbol"`
	HarvestParams           map[string]float64 `json:"harvest_params"`
	KillParams              map[string]float64 `json:"kill_params"`
	PolicyVersion           string             `json:"policy_version"`
	TradingState            TradingState       `json:"trading_state"`
	Generator               string             `json:"generator,omitempty"`
	ValidUntil              int64              `json:"valid_until_epoch,omitempty"`
	MaxNotionalUSDTBySymbol map[string]float64 `json:"max_notional_usdt_by_symbol,omitempty"`
	MaxOrdersPerMinute      int                `json:"max_orders_per_minute,omitempty"`
}

// ParseContent reads one JSON object strictly: unknown fields (a typo, or a
// field that is stamped, such as policy_seq) and trailing data are errors.
// Errors give the line and column (ParseContentFile adds the file name).
func ParseContent(r io.Reader) (*Content, error) { return ParseContentFile("", r) }

// Stamp is what Build adds to Content.
type Stamp struct {
	Seq       uint64
	IssuedAt  time.Time
	Validity  time.Duration // used when Content.ValidUntil is 0
	Generator string        // used when Content.Generator is empty
}

// Build returns the policy of c stamped with st, validated. Errors carry
// POLICY_INVALID.
func (c *Content) Build(st Stamp) (*Policy, error) {
	// No defaults: the services reading these maps must get what was meant.
	if c.HarvestParams == nil || c.KillParams == nil || c.LeverageBySymbol == nil {
		return nil, reason.Errorf(reason.PolicyInvalid, "harvest_params, kill_params and leverage_by_symbol are required (an empty object {} is allowed for the params)")
	}
	lev := make(map[string]int, len(c.LeverageBySymbol))
	for sym, l := range c.LeverageBySymbol {
		if l != math.Trunc(l) || math.Abs(l) > 1e6 {
			return nil, reason.Errorf(reason.PolicyInvalid, "leverage for %s is %v, want a whole number 1..%d", sym, l, MaxLeverage)
		}
		lev[sym] = int(l)
	}
	p := &Policy{
		UniverseSymbols:         c.UniverseSymbols,
		LeverageBySymbol:        lev,
		HarvestParams:           c.HarvestParams,
		KillParams:              c.KillParams,
		Version:                 c.PolicyVersion,
		TradingState:            c.TradingState,
		Generator:               c.Generator,
		Seq:                     st.Seq,
		IssuedAt:                st.IssuedAt.Unix(),
		ValidUntil:              c.ValidUntil,
		MaxNotionalUSDTBySymbol: c.MaxNotionalUSDTBySymbol,
		MaxOrdersPerMinute:      c.MaxOrdersPerMinute,
	}
	if p.Generator == "" {
		p.Generator = st.Generator
	}
	if p.ValidUntil == 0 {
		p.ValidUntil = st.IssuedAt.Add(st.Validity).Unix()
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	return p, nil
}
