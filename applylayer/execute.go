package applylayer

// The execute stage: one reserved plan is gated against the policy and, when
// it passes, placed at the venue under its client order id.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

// outcome is what becomes a plan's result.
type outcome struct {
	decision plan.Outcome
	code     reason.Code
	detail   string
	order    exchange.OrderState
}

func denied(code reason.Code, detail string) outcome {
	return outcome{decision: plan.Denied, code: code, detail: detail}
}

// handle finishes one prepared and reserved entry. An error means the
// entry could not be finished (Redis, an unknown venue outcome) and stays
// pending.
func (s *Service) handle(ctx context.Context, it *item) error {
	m, fields, p, recKey, coid := it.msg, it.fields, it.p, it.recKey, it.coid
	if it.early != nil {
		return s.finish(ctx, m.ID, fields, p, "", *it.early)
	}
	if it.err != nil {
		return it.err
	}
	status := it.status
	switch status {
	case reservedReplay:
		return s.finish(ctx, m.ID, fields, p, "", denied(reason.PlanReplayed, "plan_id "+p.ID+" was already received on another entry"))
	case reservedBusy:
		return nil // another live consumer holds it; it acknowledges it
	case reservedDone: // finished before: its result exists
		if err := s.rdb.XAck(ctx, s.cfg.Keys.ApplyPlan(), s.cfg.Group, m.ID).Err(); err != nil {
			return fmt.Errorf("acknowledge entry %s: %w", m.ID, err)
		}
		return nil
	}
	if status == reservedResume && p.Decision == plan.Execute {
		// A consumer died holding this plan: the venue may hold its order.
		// Reconcile by client order id; never send blindly.
		o, found, err := s.venue.LookupOrder(ctx, p.Symbol, coid)
		if err != nil {
			return s.unresolved(p, m.ID, coid, fmt.Errorf("reconcile plan %s (%s): %w", p.ID, coid, err))
		}
		if found {
			out, final := orderOutcome(o)
			if !final {
				return s.resting(ctx, p, recKey, o)
			}
			s.cfg.Log.Info("reconciled plan after a restart", "plan_id", p.ID, "client_order_id", coid, "status", o.Status)
			s.clearEntry(ctx, p.ID) // final: an earlier attempt's account reservation, if any, is done
			return s.finish(ctx, m.ID, fields, p, recKey, out)
		}
	}
	// Freshness is checked on every attempt that has not reached the venue:
	// a plan resumed after a long outage is not executed late.
	if d := gate.Fresh(p, s.cfg.Now(), s.cfg.Freshness); !d.Allow {
		return s.finish(ctx, m.ID, fields, p, recKey, denied(d.Code, d.Msg))
	}
	if p.Decision != plan.Execute {
		return s.finish(ctx, m.ID, fields, p, recKey, outcome{decision: plan.Skipped, detail: "producer decision " + string(p.Decision)})
	}
	out, err := s.decideAndExecute(ctx, it)
	if errors.Is(err, errSymbolLost) { // decide again on a fresh read, once
		out, err = s.decideAndExecute(ctx, it)
	}
	for try := 1; errors.Is(err, errAccountMoved) && try < accountTries; try++ {
		out, err = s.decideAndExecute(ctx, it) // another entry was reserved: decide again
	}
	if errors.Is(err, errLeaseLost) {
		s.cfg.Log.Warn("plan taken over by another consumer: not acting on it", "plan_id", p.ID, "entry", m.ID)
		return nil // the new owner writes its result
	}
	if err != nil {
		return s.unresolved(p, m.ID, coid, err)
	}
	return s.finish(ctx, m.ID, fields, p, recKey, out)
}

// decideAndExecute gates an authenticated, fresh EXECUTE plan and, when it
// passes, places its order. A plan that can reach the venue (not a canary,
// under a policy) is decided while this consumer holds its symbol's lease,
// on a position read under that lease, and every venue call is fenced.
//
// Under exposure limits an entry is reserved against the account before
// its order (exposure.go), and the reservation is cleared once the order
// filled or the plan was denied or failed (errors leave it: the plan is
// finished later, by this consumer or another).
func (s *Service) decideAndExecute(ctx context.Context, it *item) (out outcome, err error) {
	p, coid := it.p, it.coid
	if p.ReduceOnly {
		ctx = exchange.Urgent(ctx) // a rate-limited venue serves exits from a reserved share
	}
	in := gate.Input{Plan: p, Policy: s.pol.signed, PolicyErr: s.pol.err, Now: s.cfg.Now()}
	var view *accountView
	// A resting order returns an error (the plan stays pending): its
	// reservation still counts until the order is final.
	defer func() {
		if view != nil && err == nil {
			s.clearEntry(ctx, p.ID)
		}
	}()
	if in.Policy != nil && !p.Canary {
		if err := s.holdSymbol(ctx, p.Symbol); err != nil {
			return outcome{}, err
		}
	}
	if in.Policy != nil {
		pos, err := s.position(ctx, p.Symbol)
		if err != nil {
			return denied(reason.ExchangeUnavailable, "position of "+p.Symbol+": "+err.Error()), nil
		}
		in.Position = pos
		if mark, err := s.venue.MarkPrice(ctx, p.Symbol); err == nil {
			in.MarkPrice = mark
		}
		if exposureLimited(&in.Policy.Policy) {
			v, err := s.readAccount(ctx, &in.Policy.Policy, p, gate.Reducing(in))
			if err != nil {
				return outcome{}, err
			}
			in.Pending, in.Account, view = v.pending, v.acct, &v
		}
	}
	start := time.Now()
	d := gate.Check(in, s.cfg.Gate)
	s.observeGate(start)
	if view != nil && !p.Canary && !view.reducing {
		s.recordAccount(ctx, in, view, exposureCode(d.Code))
	}
	if !d.Allow {
		if d.Code == reason.DenyNotExitOwner {
			s.logOwnershipDenial(it, d.Msg)
		}
		if d.Code == reason.DailyLossLimitReached {
			s.dailyLossAlert(ctx, &in.Policy.Policy, in.Account, p)
		}
		return denied(d.Code, d.Msg), nil
	}
	pol := in.Policy
	if view != nil && !p.Canary && !d.Reducing && gate.NeedsAccount(&pol.Policy) {
		if err := s.reserveEntry(ctx, view.version, p); err != nil {
			return outcome{}, err
		}
	}
	if pol.MaxOrdersPerMinute > 0 && !d.Reducing {
		take := "1"
		if p.Canary {
			take = "0"
		}
		minute := s.cfg.Now().Unix() / 60
		ok, err := rateScript.Run(ctx, s.rdb, []string{s.cfg.State.ApplyRate(minute)},
			pol.MaxOrdersPerMinute, take).Int()
		if err != nil {
			return outcome{}, fmt.Errorf("rate limit: %w", err)
		}
		if ok == 0 {
			return denied(reason.RateLimitExceeded, fmt.Sprintf("max_orders_per_minute %d reached", pol.MaxOrdersPerMinute)), nil
		}
	}
	if p.Canary {
		return outcome{decision: plan.Skipped, detail: "canary: passed every gate, not sent to the venue"}, nil
	}
	if it.notReplicated {
		return s.notReplicatedOutcome(), nil
	}
	if !d.Reducing {
		lev := pol.LeverageBySymbol[p.Symbol]
		if p.Leverage > 0 {
			lev = p.Leverage
		}
		// Set again when it differs or a minute has passed: someone may
		// have changed it at the venue by hand.
		if set := s.levSet[p.Symbol]; set.lev != lev || time.Since(set.at) > leverageRecheck {
			if err := s.fence(ctx, it); err != nil {
				return outcome{}, err
			}
			if err := s.venue.SetLeverage(ctx, p.Symbol, lev); err != nil {
				return venueFailure(err, "set leverage"), nil
			}
			s.levSet[p.Symbol] = leverageSet{lev: lev, at: time.Now()}
		}
	}
	// The open execution record (reserveScript) already says that the venue
	// may hold this order from here on.
	if err := s.fence(ctx, it); err != nil {
		return outcome{}, err
	}
	start = time.Now()
	o, err := s.venue.PlaceOrder(ctx, exchange.Order{
		ClientOrderID: coid, Symbol: p.Symbol, Side: p.Side, Type: p.Type,
		Qty: p.QtyText, Price: p.PriceText, ReduceOnly: p.ReduceOnly, TimeInForce: s.timeInForce(p),
	})
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.exchangeSeconds.Observe(time.Since(start).Seconds())
	}
	if errors.Is(err, exchange.ErrUnknownOutcome) {
		delete(s.batchPos, p.Symbol) // whatever happened, read it again
		found := false
		o, found, err = s.venue.LookupOrder(ctx, p.Symbol, coid)
		if err != nil || !found {
			// Never a final result: the plan stays pending and is
			// reconciled until the venue tells its fate.
			return outcome{}, fmt.Errorf("order %s: %w, reconciling later (look-up: found=%v, %v)", coid, exchange.ErrUnknownOutcome, found, err)
		}
	}
	if err != nil {
		var rej *exchange.Rejected
		if errors.As(err, &rej) {
			delete(s.batchPos, p.Symbol) // a refusal may mean the position moved at the venue; an order not sent moved nothing
		}
		return venueFailure(err, "place order"), nil
	}
	out, final := orderOutcome(o)
	if !final {
		delete(s.batchPos, p.Symbol)
		return outcome{}, s.resting(ctx, p, it.recKey, o)
	}
	s.filled(p, o)
	return out, nil
}

// leverageSet is the leverage this process last set for a symbol, and when.
type leverageSet struct {
	lev int
	at  time.Time
}

// leverageRecheck bounds how long a leverage set at the venue is trusted
// before an entry sets it again.
const leverageRecheck = time.Minute

// orderOutcome is the result an order's state decides, and whether that
// state is final. Anything filled is EXECUTED with the filled quantity (a
// partial fill says so); nothing filled is FAILED with the reason its final
// status gives; NEW and PARTIALLY_FILLED are not final (the order rests).
func orderOutcome(o exchange.OrderState) (outcome, bool) {
	if !o.Status.Final() {
		return outcome{}, false
	}
	if o.Filled() {
		out := outcome{decision: plan.Executed, order: o}
		if o.Status != exchange.StatusFilled {
			of := ""
			if o.OrigQty != "" {
				of = " of " + o.OrigQty
			}
			out.detail = fmt.Sprintf("partially filled %s%s: the order ended %s", o.FilledQty, of, o.Status)
		}
		return out, true
	}
	code := reason.ExchangeRejected
	switch o.Status {
	case exchange.StatusExpired, exchange.StatusExpiredInMatch:
		code = reason.ExchangeOrderExpired
	case exchange.StatusCanceled:
		code = reason.ExchangeOrderCanceled
	}
	return outcome{decision: plan.Failed, code: code, order: o,
		detail: fmt.Sprintf("the order ended %s at the venue with nothing filled", o.Status)}, true
}

// errResting is the error of a plan whose order rests at the venue.
var errResting = errors.New("order resting at the venue")

// resting records a plan's resting order in its execution record
// (order_status, exchange_order_id, filled_qty) and leaves the plan
// pending: it is looked up again at every claim until its state is final.
func (s *Service) resting(ctx context.Context, p *plan.Plan, recKey string, o exchange.OrderState) error {
	s.cfg.Log.Info("order resting at the venue", "plan_id", p.ID, "client_order_id", o.ClientOrderID,
		"exchange_order_id", o.ExchangeOrderID, "status", o.Status, "filled_qty", o.FilledQty)
	if err := s.rdb.HSet(ctx, recKey, "order_status", string(o.Status), "exchange_order_id", o.ExchangeOrderID,
		"filled_qty", o.FilledQty).Err(); err != nil {
		s.cfg.Log.Warn("could not record the resting order", "plan_id", p.ID, "error", err)
	}
	return fmt.Errorf("plan %s: %w (%s, filled %s): followed until final", p.ID, errResting, o.Status, o.FilledQty)
}

// unresolvedAlertAfter bounds how long a plan's order may stay of unknown
// outcome before every retry logs EXCHANGE_OUTCOME_UNKNOWN at error level.
const unresolvedAlertAfter = 2 * time.Minute

// unresolved passes err on (the plan stays pending) and, when err is an
// unknown outcome older than unresolvedAlertAfter (by the plan's stream
// entry id, the time it was received), alerts.
func (s *Service) unresolved(p *plan.Plan, entryID, coid string, err error) error {
	if !errors.Is(err, exchange.ErrUnknownOutcome) {
		return err
	}
	ms, perr := strconv.ParseInt(strings.SplitN(entryID, "-", 2)[0], 10, 64)
	if age := s.cfg.Now().Sub(time.UnixMilli(ms)); perr == nil && age > unresolvedAlertAfter {
		s.cfg.Log.Error(fmt.Sprintf("%s plan_id=%s client_order_id=%s symbol=%s: the venue has not told the order's fate for %s; "+
			"look the client order id up in the order history", reason.ExchangeOutcomeUnknown, p.ID, coid, p.Symbol, age.Round(time.Second)),
			"reason", reason.ExchangeOutcomeUnknown, "plan_id", p.ID, "client_order_id", coid, "age", age.Round(time.Second))
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.unresolved.Inc()
		}
	}
	return err
}

// venueFailure is the result of an order the venue did not take.
func venueFailure(err error, what string) outcome {
	var rej *exchange.Rejected
	if errors.As(err, &rej) {
		return outcome{decision: plan.Failed, code: reason.ExchangeRejected,
			detail: fmt.Sprintf("%s: venue code %d: %s", what, rej.Code, rej.Msg)}
	}
	return outcome{decision: plan.Failed, code: reason.ExchangeUnavailable, detail: what + ": " + err.Error()}
}

func (s *Service) observeGate(start time.Time) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.gateSeconds.Observe(time.Since(start).Seconds())
	}
}

// timeInForce is IOC for a LIMIT order of a source that may not exit: a
// resting order decided as an entry could fill later, after a position
// opened on the other side, as an exit. The exit owner's and break-glass
// sources' LIMIT orders may rest.
func (s *Service) timeInForce(p *plan.Plan) string {
	if p.Type != market.Limit || p.Source == s.cfg.Gate.ExitOwner || s.cfg.Gate.BreakGlass[p.Source] {
		return ""
	}
	return exchange.IOC
}
