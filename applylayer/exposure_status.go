package applylayer

// The account snapshot: what the newest entry decided under exposure limits
// saw of the account, for `quantum status` and the metrics. It is written
// (one replaced hash, keys.Space.ApplyExposureStatus) after each such
// decision, so it is as old as that decision: At says when.

import (
	"context"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/policy"
)

// AccountSnapshot is the account as one decision saw it.
type AccountSnapshot struct {
	At          time.Time          `json:"at"`
	Consumer    string             `json:"consumer"`
	Symbol      string             `json:"symbol"`             // the plan's symbol
	BySymbol    map[string]float64 `json:"exposure_by_symbol"` // |position + reserved| x mark, USDT
	GrossRead   bool               `json:"gross_read"`         // every symbol was read (the account caps are set)
	GrossUSDT   float64            `json:"gross_usdt"`
	Open        int                `json:"open_positions"`
	PnLRead     bool               `json:"day_pnl_read"`
	DayPnLUSDT  float64            `json:"day_pnl_usdt"`
	ReservedQty float64            `json:"reserved_qty"` // the plan's symbol's entries reserved and not yet filled
}

// snapshotTTL bounds how long a snapshot outlives the apply layer.
const snapshotTTL = 24 * time.Hour

// snapshotEvery is how often one replica writes the snapshot at most.
const snapshotEvery = time.Second

// snapshot builds the account snapshot of one decision.
func (s *Service) snapshot(in gate.Input, view *accountView) AccountSnapshot {
	snap := AccountSnapshot{At: s.cfg.Now(), Consumer: s.cfg.Consumer, Symbol: in.Plan.Symbol, BySymbol: map[string]float64{},
		GrossRead: view.acct.Read, PnLRead: view.acct.PnLRead, DayPnLUSDT: view.acct.DayPnL, ReservedQty: view.pending}
	maps.Copy(snap.BySymbol, view.others)
	if q := in.Position + in.Pending; q != 0 && in.MarkPrice > 0 {
		snap.BySymbol[in.Plan.Symbol] = math.Abs(q) * in.MarkPrice
	}
	for _, n := range snap.BySymbol {
		snap.GrossUSDT += n
	}
	snap.Open = len(snap.BySymbol)
	return snap
}

// Fields encodes the snapshot as the status hash.
func (a AccountSnapshot) Fields() map[string]any {
	f := map[string]any{
		"at_ms": a.At.UnixMilli(), "consumer": a.Consumer, "symbol": a.Symbol,
		"gross_read": strconv.FormatBool(a.GrossRead), "gross_usdt": ftoa(a.GrossUSDT), "open_positions": a.Open,
		"day_pnl_read": strconv.FormatBool(a.PnLRead), "day_pnl_usdt": ftoa(a.DayPnLUSDT), "reserved_qty": ftoa(a.ReservedQty),
	}
	for sym, n := range a.BySymbol {
		f["n:"+sym] = ftoa(n)
	}
	return f
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// ParseAccountSnapshot reads the status hash; ok is false when there is none.
func ParseAccountSnapshot(h map[string]string) (a AccountSnapshot, ok bool) {
	ms, err := strconv.ParseInt(h["at_ms"], 10, 64)
	if err != nil {
		return a, false
	}
	a = AccountSnapshot{At: time.UnixMilli(ms), Consumer: h["consumer"], Symbol: h["symbol"], BySymbol: map[string]float64{},
		GrossRead: h["gross_read"] == "true", PnLRead: h["day_pnl_read"] == "true"}
	a.GrossUSDT, _ = strconv.ParseFloat(h["gross_usdt"], 64)
	a.Open, _ = strconv.Atoi(h["open_positions"])
	a.DayPnLUSDT, _ = strconv.ParseFloat(h["day_pnl_usdt"], 64)
	a.ReservedQty, _ = strconv.ParseFloat(h["reserved_qty"], 64)
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if sym, found := strings.CutPrefix(k, "n:"); found {
			a.BySymbol[sym], _ = strconv.ParseFloat(h[k], 64)
		}
	}
	return a, true
}

// recordAccount writes the snapshot of a decision and sets the metrics. A
// failure is logged: the snapshot is for operators, never for a decision.
func (s *Service) recordAccount(ctx context.Context, in gate.Input, view *accountView, force bool) {
	snap := s.snapshot(in, view)
	if m := s.cfg.Metrics; m != nil {
		m.observeAccount(snap, &in.Policy.Policy)
	}
	// The metrics move with every decision; the snapshot in Redis at most
	// once per snapshotEvery per replica (it is for operators, and each write
	// is a round trip on the plan's path), and at every denial by an
	// exposure limit (force), when an operator looks.
	if !force && !s.lastSnapshot.IsZero() && time.Since(s.lastSnapshot) < snapshotEvery {
		return
	}
	s.lastSnapshot = time.Now()
	key := s.cfg.Keys.ApplyExposureStatus()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, snap.Fields())
		p.Expire(ctx, key, snapshotTTL)
		return nil
	})
	if err != nil {
		s.cfg.Log.Warn("could not record the account snapshot", "error", err)
	}
}

// observeAccount sets the exposure gauges from a snapshot and the limits
// of the policy in use.
func (m *Metrics) observeAccount(a AccountSnapshot, pol *policy.Policy) {
	m.exposure.Reset()
	for sym, n := range a.BySymbol {
		m.exposure.WithLabelValues(sym).Set(n)
	}
	if a.GrossRead {
		m.gross.Set(a.GrossUSDT)
		m.openPositions.Set(float64(a.Open))
	}
	if a.PnLRead {
		m.dayPnL.Set(a.DayPnLUSDT)
	}
	m.limits.Reset()
	for name, v := range map[string]float64{
		"max_gross_exposure_usdt": pol.MaxGrossExposureUSDT,
		"max_daily_loss_usdt":     pol.MaxDailyLossUSDT,
		"max_open_positions":      float64(pol.MaxOpenPositions),
	} {
		if v > 0 {
			m.limits.WithLabelValues(name).Set(v)
		}
	}
}
