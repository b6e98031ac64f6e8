package applylayer

// The result stage: every plan's result (plan.Result, the one owner of the
// wire format) is written with its done marker and acknowledgement by one
// script per entry, the batch's in one pipelined round trip.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
	"github.com/redis/go-redis/v9"
)

// finishing is a result waiting to be written by flush.
type finishing struct {
	keys    []string
	args    []any
	entryID string
	fields  map[string]string
	p       *plan.Plan
	out     outcome
}

// finish queues a plan's result. flush writes the batch's results in one
// pipelined round trip once every plan of the batch is decided; each
// result is still its own atomic script (result, done marker,
// acknowledgement), so a crash between two plans of a batch loses no
// result: an order placed before the crash is found by its client order id
// when the entry is claimed again.
func (s *Service) finish(_ context.Context, entryID string, fields map[string]string, p *plan.Plan, recKey string, out outcome) error {
	k := s.cfg.Keys
	args := []any{s.cfg.Group, entryID, int64(s.cfg.RecordTTL / time.Second), s.cfg.ResultMaxLen, s.cfg.Consumer}
	r := s.result(entryID, fields, p, out)
	for _, f := range r.SignedFields(s.cfg.ResultKey) {
		args = append(args, f)
	}
	ks := []string{s.cfg.State.ApplyDone(entryID), s.cfg.Results, k.ApplyPlan()}
	if recKey != "" {
		ks = append(ks, recKey)
	}
	s.pending = append(s.pending, finishing{
		keys: ks,
		args: args, entryID: entryID, fields: fields, p: p, out: out,
	})
	return nil
}

// flush writes the queued results. One that cannot be written leaves its
// entry pending, to be claimed and finished again.
func (s *Service) flush(ctx context.Context) {
	if len(s.pending) == 0 {
		return
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(s.pending))
	for i, f := range s.pending {
		cmds[i] = finalizeScript.EvalSha(ctx, pipe, f.keys, f.args...)
	}
	pipe.Exec(ctx) // errors are per command, read below
	for i, f := range s.pending {
		id, err := cmds[i].Text()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			id, err = finalizeScript.Run(ctx, s.rdb, f.keys, f.args...).Text()
		}
		if err != nil {
			s.cfg.Log.Error("plan left pending, will be retried", "entry", f.entryID, "error", fmt.Errorf("write result: %w", err))
			continue
		}
		if id != "" {
			s.finished(f)
		}
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// finished counts and logs a written result.
func (s *Service) finished(f finishing) {
	out, p := f.out, f.p
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.finished(out.decision, out.code, s.metricSource(f.fields[plan.FieldSource]))
	}
	if out.decision == plan.Executed {
		msg := "plan executed"
		if s.cfg.Shadow {
			msg = "shadow: plan would be executed"
		}
		s.cfg.Log.Info(msg, "plan_id", p.ID, "source", p.Source, "symbol", p.Symbol,
			"side", p.Side, "qty", p.QtyText, "client_order_id", out.order.ClientOrderID,
			"exchange_order_id", out.order.ExchangeOrderID, "status", out.order.Status)
	} else if out.code != "" && out.code != reason.DenyNotExitOwner {
		// An ownership denial has one line, logOwnershipDenial's (SPEC.md):
		// operators count them with grep -c.
		s.cfg.Log.Info("plan "+strings.ToLower(string(out.decision)), "reason", out.code, "entry", f.entryID,
			"plan_id", plan.Clip(f.fields[plan.FieldPlanID]), "source", plan.Clip(f.fields[plan.FieldSource]), "detail", clipDetail(out.detail))
	}
}

// result builds the plan's result entry (plan.Result owns the wire format).
// Fields of an entry that did not parse are echoed clipped.
func (s *Service) result(entryID string, fields map[string]string, p *plan.Plan, out outcome) plan.Result {
	r := plan.Result{
		PlanID: plan.Clip(fields[plan.FieldPlanID]), Source: plan.Clip(fields[plan.FieldSource]), Symbol: plan.Clip(fields[plan.FieldSymbol]),
		Action: plan.SafeLabel(fields[plan.FieldAction]), Side: plan.Clip(fields[plan.FieldSide]),
		Decision: out.decision, Executed: out.decision == plan.Executed, Reason: out.code,
		ExchangeOrderID: out.order.ExchangeOrderID, FilledQty: out.order.FilledQty, AvgPrice: out.order.AvgPrice,
		Timestamp: s.cfg.Now().Unix(), PlanEntryID: entryID, OrderStatus: string(out.order.Status),
		Detail: clipDetail(out.detail), Consumer: s.cfg.Consumer,
		Qty: plan.Clip(fields[plan.FieldQty]), RequestedQty: plan.Clip(fields[plan.FieldQty]),
	}
	if p != nil {
		r.PlanID, r.Source, r.Symbol, r.Action, r.Side = p.ID, p.Source, p.Symbol, plan.SafeLabel(p.Action), string(p.Side)
		r.Canary, r.ReduceOnly, r.Qty = p.Canary, p.ReduceOnly, p.QtyText
		if p.Leverage > 0 {
			r.Leverage, r.RequestedLeverage = strconv.Itoa(p.Leverage), plan.Clip(fields[plan.FieldLeverage])
		}
		if out.order.OrigQty != "" {
			r.Qty = out.order.OrigQty // what the venue took (rounded down to its step)
		}
		if r.Executed || out.decision == plan.Failed {
			r.ClientOrderID = market.ClientOrderID(p.ID)
		}
	}
	if sp := s.pol.signed; sp != nil {
		r.PolicyVersion, r.PolicySeq, r.PolicyHash = sp.Version, strconv.FormatUint(sp.Seq, 10), sp.Hash
	}
	if !r.Executed {
		r.FilledQty, r.AvgPrice = "0", "0"
	}
	return r
}

// clipDetail bounds a result's detail: our own words, which may quote
// (already clipped) plan values.
func clipDetail(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
