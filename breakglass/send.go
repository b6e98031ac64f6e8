package breakglass

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
)

// Options configure Send. Redis, Keys, Signer and Now are required.
type Options struct {
	Redis   redis.UniversalClient
	Keys    keys.Space
	Signer  producer.Signer // the break-glass source's keyring line
	Flatten bool            // the kill switch: action EMERGENCY_FLATTEN, alert critical (else MANUAL_CLOSE, warning)
	Wait    time.Duration   // how long to wait for the results
	Actor   string          // the operator, as audited and alerted
	Command string          // "close" or "flatten", as audited
	Now     func() time.Time
}

// Result is what became of one close.
type Result struct {
	Close
	PlanID    string
	Arrived   bool   // its result came within Options.Wait
	Executed  bool   // the result is EXECUTED
	Outcome   string // "EXECUTED", "DENIED <reason>", "NO_RESULT", ...: as audited
	FilledQty string
	AuditErr  error // the audit entry could not be written
	AlertErr  error // the MANUAL_EXIT alert could not be published
}

// Report is what Send did, one Result per close in the order given.
type Report struct {
	Results []Result
	// WaitErr is set when the results could not be read (not when some
	// did not arrive in time: those are Results with Arrived false).
	WaitErr error
}

// PlanError is a close that does not make a valid plan (nothing of it was
// sent; the closes before it were).
type PlanError struct {
	Symbol string
	Err    error
}

func (e *PlanError) Error() string { return fmt.Sprintf("%s: %v", e.Symbol, e.Err) }
func (e *PlanError) Unwrap() error { return e.Err }

// Send signs and sends one reduceOnly MARKET plan per close, waits for
// their results, and audits and alerts each of them. An error means the
// closes could not all be sent or the alerts not be opened (a *PlanError
// for an invalid close); the failures of single audits and alerts are in
// the Results.
func Send(ctx context.Context, opt Options, closes []Close) (*Report, error) {
	now := opt.Now()
	cursor, err := producer.Cursor(ctx, opt.Redis, opt.Keys)
	if err != nil {
		return nil, err
	}
	action, severity := "MANUAL_CLOSE", alert.SeverityWarning
	if opt.Flatten {
		action, severity = "EMERGENCY_FLATTEN", alert.SeverityCritical
	}
	var ids []string
	for _, o := range closes {
		id := producer.NewPlanID(opt.Signer.Source, now)
		fields := opt.Signer.Sign(map[string]string{
			plan.FieldPlanID: id, plan.FieldDecision: string(plan.Execute), plan.FieldSymbol: o.Symbol,
			plan.FieldSide: o.Side, plan.FieldType: string(market.Market), plan.FieldQty: o.Qty,
			plan.FieldReduceOnly: "true", plan.FieldTimestamp: strconv.FormatInt(now.Unix(), 10), plan.FieldAction: action,
		})
		if _, err := plan.Parse(fields); err != nil {
			return nil, &PlanError{Symbol: o.Symbol, Err: err}
		}
		if _, err := producer.Send(ctx, opt.Redis, opt.Keys, fields); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	got, awaitErr := producer.Await(ctx, opt.Redis, opt.Keys, cursor, opt.Wait, ids...)
	alerts, err := alert.New(opt.Redis, alert.Options{Keys: opt.Keys, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	if awaitErr != nil && !errors.Is(awaitErr, producer.ErrNoResult) {
		rep.WaitErr = awaitErr
	}
	for i, id := range ids {
		o := closes[i]
		res := Result{Close: o, PlanID: id, Outcome: "NO_RESULT"}
		r, ok := got[id]
		res.Arrived, res.FilledQty = ok, r.FilledQty
		switch {
		case !ok:
		case r.Decision == plan.Executed:
			res.Executed, res.Outcome = true, string(r.Decision)
		default:
			res.Outcome = string(r.Decision) + " " + string(r.Reason)
		}
		res.AuditErr = audit(ctx, opt, res)
		_, res.AlertErr = alerts.Fire(ctx, alert.Alert{
			Type: AlertManualExit, Labels: map[string]string{"plan_id": id}, Severity: severity, Count: 1, Window: time.Minute,
			Details: map[string]string{"sources": opt.Signer.Source, "symbols": o.Symbol, "first_plan_id": id, "last_plan_id": id,
				"actor": opt.Actor, "side": o.Side, "qty": o.Qty, "outcome": res.Outcome},
		}, time.Hour) // one incident per plan_id: the repeat never comes
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// audit appends one operator action to quantum:stream:operator.audit.
func audit(ctx context.Context, opt Options, r Result) error {
	return opt.Redis.XAdd(ctx, &redis.XAddArgs{Stream: opt.Keys.OperatorAudit(), MaxLen: 100000, Approx: true, Values: []string{
		"actor", opt.Actor, "command", opt.Command, "source", opt.Signer.Source, "symbol", r.Symbol, "side", r.Side, "qty", r.Qty,
		"plan_id", r.PlanID, "result", r.Outcome, "timestamp", strconv.FormatInt(opt.Now().Unix(), 10),
	}}).Err()
}
