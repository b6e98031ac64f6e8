package applylayer

// The execute stage: one reserved plan is gated against the policy and, when
// it passes, placed at the venue under its client order id.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
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
			return fmt.Errorf("reconcile plan %s (%s): %w", p.ID, coid, err)
		}
		if found {
			s.cfg.Log.Info("reconciled plan after a restart", "plan_id", p.ID, "client_order_id", coid, "status", o.Status)
			return s.finish(ctx, m.ID, fields, p, recKey, executedOutcome(o))
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
	if errors.Is(err, errLeaseLost) {
		s.cfg.Log.Warn("plan taken over by another consumer: not acting on it", "plan_id", p.ID, "entry", m.ID)
		return nil // the new owner writes its result
	}
	if err != nil {
		return err
	}
	return s.finish(ctx, m.ID, fields, p, recKey, out)
}

// decideAndExecute gates an authenticated, fresh EXECUTE plan and, when it
// passes, places its order. A plan that can reach the venue (not a canary,
// under a policy) is decided while this consumer holds its symbol's lease,
// on a position read under that lease, and every venue call is fenced.
func (s *Service) decideAndExecute(ctx context.Context, it *item) (outcome, error) {
	p, coid := it.p, it.coid
	in := gate.Input{Plan: p, Policy: s.pol.signed, PolicyErr: s.pol.err, Now: s.cfg.Now()}
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
	}
	start := time.Now()
	d := gate.Check(in, s.cfg.Gate)
	s.observeGate(start)
	if !d.Allow {
		if d.Code == reason.DenyNotExitOwner {
			s.logOwnershipDenial(it, d.Msg)
		}
		return denied(d.Code, d.Msg), nil
	}
	pol := in.Policy
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
		Qty: p.QtyText, Price: p.PriceText, ReduceOnly: p.ReduceOnly,
	})
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.exchangeSeconds.Observe(time.Since(start).Seconds())
	}
	if errors.Is(err, exchange.ErrUnknownOutcome) {
		delete(s.batchPos, p.Symbol) // whatever happened, read it again
		found := false
		o, found, err = s.venue.LookupOrder(ctx, p.Symbol, coid)
		if err != nil || !found {
			return outcome{}, fmt.Errorf("order %s outcome unknown, reconciling later: %v", coid, err)
		}
	}
	if err != nil {
		delete(s.batchPos, p.Symbol)
		return venueFailure(err, "place order"), nil
	}
	s.filled(p, o)
	return executedOutcome(o), nil
}

// leverageSet is the leverage this process last set for a symbol, and when.
type leverageSet struct {
	lev int
	at  time.Time
}

// leverageRecheck bounds how long a leverage set at the venue is trusted
// before an entry sets it again.
const leverageRecheck = time.Minute

func executedOutcome(o exchange.OrderState) outcome {
	return outcome{decision: plan.Executed, order: o}
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
