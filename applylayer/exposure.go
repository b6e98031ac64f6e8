package applylayer

// The exposure limits' account reservation (issue 15). The gate decides
// the limits purely, on what is read here: the symbol's own position under
// its lease (serialized per symbol), and for the gross exposure and
// open-position caps the rest of the account, which other replicas change
// at the same time under other symbols' leases. So that two replicas
// deciding entries on different symbols can never together pass a cap, an
// entry is reserved in one hash (keys.Space.ApplyExposure, exposure.lua)
// with a compare-and-set on its version:
//
//  1. read the hash (its version, the entries reserved and not yet filled),
//  2. then the venue's positions and marks of the other symbols (a
//     reserved entry that filled meanwhile is counted twice, never zero
//     times, since its reservation is cleared only after its fill),
//  3. decide (gate.Check),
//  4. reserve the entry if the version is still the one read in 1; else
//     decide again (errAccountMoved).
//
// The reservation is cleared once the order filled (the venue's position
// holds it from then on), or when the plan is denied or fails; an order
// that rests, or whose outcome is unknown, stays reserved (counted) until
// its plan is finished. Reservations older than the record TTL are
// ignored, so a clear lost to a Redis failure does not count forever.
//
// The daily loss stop reads the venue's PnL since 00:00 UTC (pnlReader);
// a venue that cannot tell denies entries under max_daily_loss_usdt.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// errAccountMoved: another entry was reserved between this decision's read
// of the account and its reservation: decide again on a fresh read.
var errAccountMoved = errors.New("account reservation moved")

// accountTries bounds the decisions of one plan against a moving account.
const accountTries = 50

// positionsReader is a venue that reads several positions at once (the
// paper venue, one round trip).
type positionsReader interface {
	PositionsOf(ctx context.Context, symbols []string) (map[string]float64, error)
}

// PnLReader is what the daily loss stop needs of a venue: the account's
// PnL in USDT since a time (realized since then + unrealized now).
type PnLReader interface {
	DayPnL(ctx context.Context, since time.Time) (float64, error)
}

// DayStart returns 00:00 UTC of t's day: the start of the daily loss stop's day.
func DayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// exposureLimited reports whether pol sets any exposure limit or the loss stop.
func exposureLimited(pol *policy.Policy) bool {
	return len(pol.MaxPositionNotionalUSDTBySymbol) > 0 || gate.NeedsAccount(pol) || pol.MaxDailyLossUSDT > 0
}

// exposureCode reports whether code is a denial by an exposure limit or the loss stop.
func exposureCode(code reason.Code) bool {
	switch code {
	case reason.PositionNotionalExceedsMax, reason.GrossExposureExceedsMax, reason.MaxOpenPositionsReached, reason.DailyLossLimitReached:
		return true
	}
	return false
}

// accountView is what readAccount found for one decision.
type accountView struct {
	version string  // of the reservation hash, for the compare-and-set
	pending float64 // the symbol's own entries reserved and not filled (other plans)
	acct    gate.Account
	others  map[string]float64 // |position + reserved| x mark of the other open symbols, when read
	// reducing: the plan cannot grow its position, so neither the other
	// symbols nor the day's PnL were read (the gate checks neither for
	// it); the view is not recorded as the account's snapshot, which would
	// show them unread.
	reducing bool
}

// Reserved is one entry reserved and not yet filled.
type Reserved struct {
	PlanID string
	Symbol string
	Qty    float64 // signed
	At     time.Time
}

// ParseReservations reads the account reservation hash: its version, the
// reserved entries (sorted by plan_id; those older than maxAge left out)
// and the symbols entries were decided on. A field that does not parse is
// an error: the caller cannot tell what it reserved.
func ParseReservations(h map[string]string, now time.Time, maxAge time.Duration) (version string, res []Reserved, symbols []string, err error) {
	version = h["v"]
	if version == "" {
		version = "0"
	}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		switch {
		case strings.HasPrefix(k, "s:"):
			symbols = append(symbols, k[2:])
		case strings.HasPrefix(k, "f:"):
			parts := strings.Fields(h[k])
			if len(parts) != 3 || !market.ValidSymbol(parts[0]) {
				return "", nil, nil, fmt.Errorf("reservation %s is %q, want SYMBOL QTY UNIXMS", k, h[k])
			}
			q, err1 := strconv.ParseFloat(parts[1], 64)
			ms, err2 := strconv.ParseInt(parts[2], 10, 64)
			if err1 != nil || err2 != nil || math.IsNaN(q) || math.IsInf(q, 0) {
				return "", nil, nil, fmt.Errorf("reservation %s is %q, want SYMBOL QTY UNIXMS", k, h[k])
			}
			at := time.UnixMilli(ms)
			if now.Sub(at) > maxAge {
				continue
			}
			res = append(res, Reserved{PlanID: k[2:], Symbol: parts[0], Qty: q, At: at})
		}
	}
	return version, res, symbols, nil
}

// readAccount reads what the exposure limits of pol need to decide p: the
// reservation hash first, then the venue. A part the venue cannot give is
// left unread in the view (the gate denies with EXCHANGE_UNAVAILABLE); a
// Redis error is returned (the plan stays pending). A reducing plan reads
// only the reservation hash, never the venue's account (the other symbols'
// positions and marks, the day's PnL): exits never wait on it (nor spend
// the rate limit's exit share on it), and the gate checks neither for them.
// Should the gate find it growing after all (with the reserved entries
// counted), the unread parts deny it EXCHANGE_UNAVAILABLE: fail closed.
func (s *Service) readAccount(ctx context.Context, pol *policy.Policy, p *plan.Plan, reducing bool) (accountView, error) {
	var view accountView
	h, err := s.rdb.HGetAll(ctx, s.cfg.Keys.ApplyExposure()).Result()
	if err != nil {
		return view, fmt.Errorf("read the account reservation: %w", err)
	}
	version, res, traded, err := ParseReservations(h, s.cfg.Now(), s.cfg.RecordTTL)
	if err != nil {
		s.cfg.Log.Error("the account reservation is unreadable: entries under exposure limits are denied", "error", err)
		return view, nil
	}
	view.version = version
	inflight := map[string]float64{}
	for _, r := range res {
		if r.PlanID != p.ID { // an earlier attempt of this plan is replaced by this one
			inflight[r.Symbol] += r.Qty
		}
	}
	view.pending = inflight[p.Symbol]
	view.reducing = reducing
	if reducing {
		return view, nil
	}
	if gate.NeedsAccount(pol) {
		if view.others, view.acct.Read = s.otherExposure(ctx, pol, p.Symbol, inflight, traded); view.acct.Read {
			for _, n := range view.others {
				view.acct.OtherGross += n
			}
			view.acct.OtherOpen = len(view.others)
		}
	}
	if pol.MaxDailyLossUSDT > 0 {
		if r, ok := s.venue.(PnLReader); ok {
			pnl, err := r.DayPnL(ctx, DayStart(s.cfg.Now()))
			if err == nil && !math.IsNaN(pnl) && !math.IsInf(pnl, 0) {
				view.acct.DayPnL, view.acct.PnLRead = pnl, true
			} else {
				s.cfg.Log.Warn("the day's PnL could not be read: entries under max_daily_loss_usdt are denied", "error", err)
			}
		}
	}
	return view, nil
}

// otherExposure returns |position + reserved| x mark of every symbol but
// own with a position or a reservation, among those in the universe,
// reserved, or ever decided on here.
func (s *Service) otherExposure(ctx context.Context, pol *policy.Policy, own string, inflight map[string]float64, traded []string) (notional map[string]float64, ok bool) {
	set := map[string]bool{}
	for _, sym := range pol.UniverseSymbols {
		set[sym] = true
	}
	for _, sym := range traded {
		set[sym] = true
	}
	for sym := range inflight {
		set[sym] = true
	}
	delete(set, own)
	symbols := slices.Sorted(maps.Keys(set))
	pos, err := s.positionsOf(ctx, symbols)
	if err != nil {
		s.cfg.Log.Warn("the account's positions could not be read: entries under exposure limits are denied", "error", err)
		return nil, false
	}
	notional = map[string]float64{}
	for _, sym := range symbols {
		q := pos[sym] + inflight[sym]
		if q == 0 {
			continue
		}
		mark, err := s.venue.MarkPrice(ctx, sym)
		if err != nil || !(mark > 0) || math.IsInf(mark, 0) {
			s.cfg.Log.Warn("no mark price for an open position: entries under exposure limits are denied", "symbol", sym, "error", err)
			return nil, false
		}
		notional[sym] = math.Abs(q) * mark
	}
	return notional, true
}

func (s *Service) positionsOf(ctx context.Context, symbols []string) (map[string]float64, error) {
	if r, ok := s.venue.(positionsReader); ok {
		return r.PositionsOf(ctx, symbols)
	}
	out := make(map[string]float64, len(symbols))
	for _, sym := range symbols {
		q, err := s.venue.Position(ctx, sym)
		if err != nil {
			return nil, fmt.Errorf("position %s: %w", sym, err)
		}
		out[sym] = q
	}
	return out, nil
}

// reserveEntry reserves p's order against the account, if the account is
// still at version: errAccountMoved when it moved.
func (s *Service) reserveEntry(ctx context.Context, version string, p *plan.Plan) error {
	q := p.Qty
	if p.Side == market.Sell {
		q = -q
	}
	ok, err := exposureScript.Run(ctx, s.rdb, []string{s.cfg.Keys.ApplyExposure()}, "reserve", p.ID,
		version, p.Symbol, strconv.FormatFloat(q, 'g', -1, 64), s.cfg.Now().UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("reserve plan %s against the account: %w", p.ID, err)
	}
	if ok != 1 {
		return errAccountMoved
	}
	return nil
}

// clearEntry clears p's reservation: its order filled, or it was denied or
// failed. A failure leaves an over-count, never an under-count, and is logged.
func (s *Service) clearEntry(ctx context.Context, planID string) {
	if err := exposureScript.Run(ctx, s.rdb, []string{s.cfg.Keys.ApplyExposure()}, "clear", planID).Err(); err != nil {
		s.cfg.Log.Warn("could not clear an entry's account reservation: it counts until it ages out", "plan_id", planID, "error", err)
	}
}

// dailyLossRepeat is longer than a day, so that DAILY_LOSS_LIMIT fires once
// per day and account (the day is one of its labels).
const dailyLossRepeat = 48 * time.Hour

// dailyLossAlert raises DAILY_LOSS_LIMIT for today, once per day and
// account (the key prefix names the account); later calls publish nothing.
func (s *Service) dailyLossAlert(ctx context.Context, pol *policy.Policy, acct gate.Account, p *plan.Plan) {
	pub, err := alert.New(s.rdb, alert.Options{Keys: s.cfg.Keys, Now: s.cfg.Now})
	if err == nil {
		var r alert.Result
		account, day := s.cfg.Keys.Prefix(), DayStart(s.cfg.Now()).Format(time.DateOnly)
		r, err = pub.Fire(ctx, alert.Alert{
			Type:     alert.TypeDailyLossLimit,
			Labels:   map[string]string{"account": account, "day": day},
			Severity: alert.SeverityCritical,
			Count:    alert.CountOccurrences,
			Window:   24 * time.Hour,
			Details: map[string]string{
				"day_pnl_usdt":        strconv.FormatFloat(acct.DayPnL, 'f', 2, 64),
				"max_daily_loss_usdt": strconv.FormatFloat(pol.MaxDailyLossUSDT, 'f', -1, 64),
				"first_plan_id":       p.ID, "symbols": p.Symbol, "sources": p.Source,
				"account": account, "day": day,
			},
		}, dailyLossRepeat)
		if err == nil && r.Published() {
			s.cfg.Log.Warn("DAILY_LOSS_LIMIT: entries stop until 00:00 UTC", "day_pnl_usdt", acct.DayPnL, "max_daily_loss_usdt", pol.MaxDailyLossUSDT, "alert_id", r.AlertID)
		}
	}
	if err != nil {
		s.cfg.Log.Error("could not raise DAILY_LOSS_LIMIT", "error", err)
	}
}
