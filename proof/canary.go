package proof

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/internal/streamid"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
)

// canary is one canary plan sent to the live apply layer and what came back.
type canary struct {
	fields  map[string]string // as sent
	entryID string            // its apply.plan entry
	cursor  string            // the result stream's newest id before it was sent
	sent    time.Time
	result  *plan.Result  // nil until its result is read
	after   time.Duration // how long the result took
}

// canaryFields returns the fields of a canary plan from the proof's source:
// an EXECUTE MARKET plan with canary=true and a unique plan id.
func (r *run) canaryFields(test, symbol, side string, reduceOnly bool) map[string]string {
	return map[string]string{
		plan.FieldPlanID: r.planID(test), plan.FieldDecision: string(plan.Execute), plan.FieldSymbol: symbol,
		plan.FieldSide: side, plan.FieldType: "MARKET", plan.FieldQty: "0.001",
		plan.FieldReduceOnly: strconv.FormatBool(reduceOnly), plan.FieldSource: r.ProofSource,
		plan.FieldTimestamp: strconv.FormatInt(r.Now().Unix(), 10), plan.FieldAction: "PROOF_CANARY",
		plan.FieldCanary: "true",
	}
}

// send appends a canary to the live apply.plan stream. It refuses a plan
// that is not marked canary=true: a proof never sends a real order. The
// result cursor is taken before the send (package producer's rule).
func (r *run) send(ctx context.Context, f map[string]string) (*canary, error) {
	if f[plan.FieldCanary] != "true" {
		return nil, fmt.Errorf("proof: refusing to send plan %s without canary=true", f[plan.FieldPlanID])
	}
	cursor, err := producer.Cursor(ctx, r.Redis, r.Keys)
	if err != nil {
		return nil, err
	}
	c := &canary{fields: f, sent: time.Now(), cursor: cursor}
	if c.entryID, err = producer.Send(ctx, r.Redis, r.Keys, f); err != nil {
		return nil, err
	}
	return c, nil
}

// await reads the live result stream, read-only, until every canary has
// its result or the timeout passes.
func (r *run) await(ctx context.Context, cs ...*canary) error {
	if len(cs) == 0 {
		return nil
	}
	cursor, ids := cs[0].cursor, make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.fields[plan.FieldPlanID]
		if a, err := streamid.Parse(c.cursor); err == nil {
			if b, err := streamid.Parse(cursor); err != nil || a.Less(b) {
				cursor = c.cursor
			}
		}
	}
	got, err := producer.Await(ctx, r.Redis, r.Keys, cursor, r.CanaryTimeout, ids...)
	forged := 0
	for _, c := range cs {
		res, ok := got[c.fields[plan.FieldPlanID]]
		if !ok {
			continue
		}
		if r.ResultKey != nil && !plan.VerifyResult(res.Raw, r.ResultKey) {
			forged++ // not believed: the test fails for want of a result
			continue
		}
		c.result = &res.Result
		c.after = res.At.Sub(c.sent)
	}
	if forged > 0 {
		return fmt.Errorf("%d canary result(s) whose result_mac does not verify with QUANTUM_RESULT_KEY (RESULT_FORGED, or another key)", forged)
	}
	if errors.Is(err, producer.ErrNoResult) {
		return fmt.Errorf("%w: is quantum-apply-layer running with this prefix (%s)?", err, r.Keys.Prefix())
	}
	return err
}

// expectDenied judges a canary that must come back DENIED with code.
func expectDenied(c *canary, code string, awaitErr error) (Status, string) {
	if c == nil {
		return Fail, "canary not sent"
	}
	id := c.fields[plan.FieldPlanID]
	if c.result == nil {
		return Fail, fmt.Sprintf("plan %s: %v", id, awaitErr)
	}
	d, rc := c.result.Decision, c.result.Reason
	if d == plan.Denied && string(rc) == code {
		return Pass, fmt.Sprintf("plan %s DENIED %s after %s (canary=%t)", id, rc, c.after.Round(time.Millisecond), c.result.Canary)
	}
	return Fail, fmt.Sprintf("plan %s came back %s %s, want DENIED %s", id, d, rc, code)
}
