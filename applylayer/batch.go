package applylayer

// The batch stage: parse and authenticate every entry (no I/O), then one
// pipelined round trip re-reads the policy and reserves every plan's
// execution record, then the batch's positions are read once.

import (
	"context"
	"fmt"
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
	msg       entry
	fields    map[string]string
	p         *plan.Plan
	early     *outcome // decided before the reservation (unreadable, unauthenticated)
	recKey    string
	legacyKey string // the record's key before records were scoped by source
	coidKey   string // the client order id's index (reconcile.go)
	// notReplicated: the batch's execution records did not reach
	// MinReplicas replicas in time; the plan is not sent (replicate.go).
	notReplicated bool
	coid          string
	status        reservation
	err           error
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

// handleBatch decides the entries of a batch in order. Parsing and
// authentication need no I/O; then one pipelined round trip re-reads the
// policy and reserves every authenticated plan; then each plan is finished
// in turn.
func (s *Service) handleBatch(ctx context.Context, msgs []entry) {
	items := make([]*item, len(msgs))
	for i, m := range msgs {
		items[i] = s.prepare(m)
	}
	s.reserveAll(ctx, items)
	s.observePolicy()
	for _, it := range items {
		if err := s.handle(ctx, it); err != nil {
			// The entry stays pending and is claimed again after ClaimIdle.
			s.cfg.Log.Error("plan left pending, will be retried", "entry", it.msg.ID, "error", err)
		}
	}
	s.releaseSymbol(ctx)
	s.flush(ctx)
}

// prepare parses and authenticates an entry.
func (s *Service) prepare(m entry) *item {
	it := &item{msg: m, fields: make(map[string]string, len(m.Pairs)/2)}
	for i := 0; i+1 < len(m.Pairs); i += 2 {
		if _, seen := it.fields[m.Pairs[i]]; !seen { // the first copy: what redis-cli shows first
			it.fields[m.Pairs[i]] = m.Pairs[i+1]
		}
	}
	err := m.Err
	var p *plan.Plan
	if err == nil {
		p, err = plan.ParseEntry(m.Pairs)
	}
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
	if d := gate.Canary(p, s.cfg.Gate); !d.Allow {
		o := denied(d.Code, d.Msg)
		it.early = &o
		return it
	}
	it.recKey = s.cfg.State.PlanRecord(p.Source, p.ID)
	it.legacyKey = s.cfg.State.ApplyRecord(p.ID)
	it.coidKey = s.cfg.State.ApplyOrderIndex(market.ClientOrderID(p.ID))
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
			cmds[i] = reserveScript.EvalSha(ctx, pipe, []string{it.recKey, it.legacyKey, it.coidKey}, s.reserveArgs(it)...)
		}
	}
	wait := s.waitReplicas(ctx, pipe)
	pipe.Exec(ctx) // errors are per command, read below
	fields, err := polCmd.Result()
	if err != nil {
		err = policystore.ReadError(err)
	}
	s.applyPolicy(ctx, fields, err)
	// A script Redis does not hold (after a restart): the whole script, in
	// a second pipeline with its own WAIT (WAIT covers its connection's
	// writes only).
	var again []int
	for i := range items {
		if cmds[i] != nil && redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		pipe := s.rdb.Pipeline()
		for _, i := range again {
			cmds[i] = reserveScript.Eval(ctx, pipe, []string{items[i].recKey, items[i].legacyKey, items[i].coidKey}, s.reserveArgs(items[i])...)
		}
		wait2 := s.waitReplicas(ctx, pipe)
		pipe.Exec(ctx)
		if wait2 != nil {
			if n, err := wait2.Int64(); err != nil || n < int64(s.cfg.MinReplicas) {
				wait = wait2 // the second pipeline's records fell short
			}
		}
	}
	replicated := s.replicated(wait)
	for i, it := range items {
		if cmds[i] == nil {
			continue
		}
		res, err := cmds[i].StringSlice()
		if err != nil || len(res) != 2 {
			it.err = fmt.Errorf("reserve plan %s: %v", it.p.ID, err)
			continue
		}
		if it.status, err = parseReservation(res[0]); err != nil {
			it.err = fmt.Errorf("reserve plan %s: %w", it.p.ID, err)
		}
		it.notReplicated = !replicated
	}
}

func (s *Service) reserveArgs(it *item) []any {
	return []any{it.msg.ID, s.cfg.Consumer, s.cfg.ClaimIdle.Milliseconds(), int64(s.cfg.RecordTTL / time.Second), it.coid}
}

// position returns the symbol's position: the copy read under the symbol
// lease in hand (moved by its fills), else read from the venue and kept
// while the lease is held.
func (s *Service) position(ctx context.Context, symbol string) (float64, error) {
	if pos, ok := s.batchPos[symbol]; ok {
		return pos, nil
	}
	pos, err := s.venue.Position(ctx, symbol)
	if err == nil && s.held != nil && s.held.symbol == symbol {
		s.batchPos[symbol] = pos
	}
	return pos, err
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
