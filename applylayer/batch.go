package applylayer

// The batch stage: parse and authenticate every entry (no I/O), then one
// pipelined round trip re-reads the policy and reserves every plan's
// execution record, then the batch's positions are read once.

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/redis/go-redis/v9"
)

// item is one entry of a batch on its way through handleBatch.
type item struct {
	msg    redis.XMessage
	fields map[string]string
	p      *plan.Plan
	early  *outcome // decided before the reservation (unreadable, unauthenticated)
	recKey string
	coid   string
	status reservation
	err    error
}

// reservation is what reserveScript found for an entry's execution record
// (reserve.lua): the lifecycle of a plan at the moment a consumer takes it.
type reservation string

// Reservations, as reserve.lua replies them.
const (
	reservedNew    reservation = "new"    // no record: created open, leased to us
	reservedResume reservation = "resume" // this entry, unfinished: leased to us; the venue may hold its order
	reservedReplay reservation = "replay" // the plan_id belongs to another entry
	reservedBusy   reservation = "busy"   // leased to another live consumer
	reservedDone   reservation = "done"   // finished before: its result exists
)

// reservations lists every reservation, in lifecycle order.
func reservations() []reservation {
	return []reservation{reservedNew, reservedResume, reservedReplay, reservedBusy, reservedDone}
}

// parseReservation reads a script reply; anything else is an error, so a
// script that changes its replies cannot be misread as a state.
func parseReservation(s string) (reservation, error) {
	for _, r := range reservations() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown reservation %q", s)
}

// mayPlace reports whether this consumer holds the record and may go on to
// the venue.
func (r reservation) mayPlace() bool { return r == reservedNew || r == reservedResume }

// handleBatch decides the entries of a batch in order. Parsing and
// authentication need no I/O; then one pipelined round trip re-reads the
// policy and reserves every authenticated plan; then each plan is finished
// in turn.
func (s *Service) handleBatch(ctx context.Context, msgs []redis.XMessage) {
	items := make([]*item, len(msgs))
	for i, m := range msgs {
		items[i] = s.prepare(m)
	}
	s.reserveAll(ctx, items)
	s.readPositions(ctx, items)
	if s.cfg.Metrics != nil && s.pol.signed != nil {
		s.cfg.Metrics.policyAge.Set(s.cfg.Now().Sub(time.Unix(s.pol.signed.IssuedAt, 0)).Seconds())
	}
	for _, it := range items {
		if err := s.handle(ctx, it); err != nil {
			// The entry stays pending and is claimed again after ClaimIdle.
			s.cfg.Log.Error("plan left pending, will be retried", "entry", it.msg.ID, "error", err)
		}
	}
	s.flush(ctx)
}

// prepare parses and authenticates an entry.
func (s *Service) prepare(m redis.XMessage) *item {
	it := &item{msg: m, fields: make(map[string]string, len(m.Values))}
	for k, v := range m.Values {
		if str, ok := v.(string); ok {
			it.fields[k] = str
		} else {
			it.fields[k] = fmt.Sprint(v)
		}
	}
	p, err := plan.Parse(it.fields)
	if err != nil {
		o := denied(reason.PlanInvalid, err.Error())
		it.early = &o
		return it
	}
	it.p = p
	if !s.cfg.AuthOff {
		start := time.Now()
		d := gate.Authenticate(p, s.cfg.Keyring)
		s.observeGate(start)
		if !d.Allow {
			o := denied(d.Code, d.Msg)
			it.early = &o
			return it
		}
	}
	it.recKey = s.cfg.Keys.ApplyRecord(p.ID)
	it.coid = market.ClientOrderID(p.ID)
	return it
}

// reserveAll re-reads the policy and reserves the batch's plans in one
// pipelined round trip. A script Redis does not hold (after a restart) is
// loaded and the reservation retried one by one.
func (s *Service) reserveAll(ctx context.Context, items []*item) {
	pipe := s.rdb.Pipeline()
	polCmd := pipe.HGetAll(ctx, s.cfg.Keys.PolicyCurrent())
	cmds := make([]*redis.Cmd, len(items))
	for i, it := range items {
		if it.early == nil {
			cmds[i] = reserveScript.EvalSha(ctx, pipe, []string{it.recKey}, s.reserveArgs(it)...)
		}
	}
	pipe.Exec(ctx) // errors are per command, read below
	fields, err := polCmd.Result()
	if err != nil {
		err = policystore.ReadError(err)
	}
	s.applyPolicy(fields, err)
	for i, it := range items {
		if cmds[i] == nil {
			continue
		}
		res, err := cmds[i].StringSlice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			res, err = reserveScript.Run(ctx, s.rdb, []string{it.recKey}, s.reserveArgs(it)...).StringSlice()
		}
		if err != nil || len(res) != 2 {
			it.err = fmt.Errorf("reserve plan %s: %v", it.p.ID, err)
			continue
		}
		if it.status, err = parseReservation(res[0]); err != nil {
			it.err = fmt.Errorf("reserve plan %s: %w", it.p.ID, err)
		}
	}
}

func (s *Service) reserveArgs(it *item) []any {
	return []any{it.msg.ID, s.cfg.Consumer, s.cfg.ClaimIdle.Milliseconds(), int64(s.cfg.RecordTTL / time.Second), it.coid}
}

// positionsReader is what a venue may offer to read several positions in
// one round trip (the paper venue does).
type positionsReader interface {
	PositionsOf(ctx context.Context, symbols []string) (map[string]float64, error)
}

// readPositions reads, in one round trip when the venue can, the positions
// of the symbols the batch's plans will trade. Plans of the batch then see
// these positions moved by the batch's own fills (filled), which is what a
// read before each plan would see unless something outside this consumer
// traded the symbol within the batch: the same race a per-plan read has,
// between the read and the order.
func (s *Service) readPositions(ctx context.Context, items []*item) {
	clear(s.batchPos)
	r, ok := s.venue.(positionsReader)
	if !ok || s.pol.signed == nil {
		return
	}
	var symbols []string
	seen := map[string]bool{}
	for _, it := range items {
		if it.early == nil && it.err == nil && it.p.Decision == plan.Execute && !seen[it.p.Symbol] &&
			it.status.mayPlace() {
			seen[it.p.Symbol] = true
			symbols = append(symbols, it.p.Symbol)
		}
	}
	if len(symbols) == 0 {
		return
	}
	pos, err := r.PositionsOf(ctx, symbols)
	if err != nil {
		return // each plan reads its own position, and is denied if that fails
	}
	maps.Copy(s.batchPos, pos)
}

// position returns the symbol's position: from the batch's read, else from
// the venue.
func (s *Service) position(ctx context.Context, symbol string) (float64, error) {
	if pos, ok := s.batchPos[symbol]; ok {
		return pos, nil
	}
	return s.venue.Position(ctx, symbol)
}

// filled moves the batch's copy of a position by an order this consumer
// placed; when the fill cannot be read, the copy is dropped.
func (s *Service) filled(p *plan.Plan, o exchange.OrderState) {
	pos, ok := s.batchPos[p.Symbol]
	if !ok {
		return
	}
	q, err := strconv.ParseFloat(o.FilledQty, 64)
	if err != nil {
		delete(s.batchPos, p.Symbol)
		return
	}
	if p.Side == market.Sell {
		q = -q
	}
	s.batchPos[p.Symbol] = pos + q
}
