package proof

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/plan"
)

// canary is one canary plan sent to the live apply layer and what came back.
type canary struct {
	fields  map[string]string // as sent
	entryID string            // its apply.plan entry
	sent    time.Time
	result  map[string]string // nil until its result is read
	after   time.Duration     // how long the result took
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
// that is not marked canary=true: a proof never sends a real order.
func (r *run) send(ctx context.Context, f map[string]string) (*canary, error) {
	if f[plan.FieldCanary] != "true" {
		return nil, fmt.Errorf("proof: refusing to send plan %s without canary=true", f[plan.FieldPlanID])
	}
	vals := make([]any, 0, 2*len(f))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		vals = append(vals, k, f[k])
	}
	c := &canary{fields: f, sent: time.Now()}
	id, err := r.Redis.XAdd(ctx, &redis.XAddArgs{Stream: r.Keys.ApplyPlan(), Values: vals}).Result()
	if err != nil {
		return nil, fmt.Errorf("send canary %s to %s: %w", f[plan.FieldPlanID], r.Keys.ApplyPlan(), err)
	}
	c.entryID = id
	return c, nil
}

// await reads the live result stream until every canary has its result or
// the timeout passes. Results are looked for from the first canary's entry
// id on (the same Redis clock stamps both streams), read-only.
func (r *run) await(ctx context.Context, cs ...*canary) error {
	if len(cs) == 0 {
		return nil
	}
	want := map[string]*canary{}
	start := cs[0].entryID
	for _, c := range cs {
		want[c.fields[plan.FieldPlanID]] = c
		if c.entryID < start {
			start = c.entryID
		}
	}
	// Results of plans sent within a millisecond before the first canary's
	// entry may carry a smaller id: start from that millisecond.
	if i := strings.IndexByte(start, '-'); i > 0 {
		start = start[:i]
	}
	deadline := time.Now().Add(r.CanaryTimeout)
	cursor := start
	for {
		msgs, err := r.Redis.XRangeN(ctx, r.Keys.ApplyResult(), cursor, "+", 1000).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", r.Keys.ApplyResult(), err)
		}
		for _, m := range msgs {
			id, _ := m.Values["plan_id"].(string)
			if c, ok := want[id]; ok && c.result == nil {
				c.result = map[string]string{}
				for k, v := range m.Values {
					c.result[k] = fmt.Sprint(v)
				}
				c.after = time.Since(c.sent)
				delete(want, id)
			}
			cursor = "(" + m.ID
		}
		if len(want) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no result within %s: is quantum-apply-layer running with this prefix (%s)?", r.CanaryTimeout, r.Keys.Prefix())
		}
		if len(msgs) < 1000 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
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
	d, rc := c.result["decision"], c.result["reason"]
	if d == "DENIED" && rc == code {
		return Pass, fmt.Sprintf("plan %s DENIED %s after %s (canary=%s)", id, rc, c.after.Round(time.Millisecond), c.result["canary"])
	}
	return Fail, fmt.Sprintf("plan %s came back %s %s, want DENIED %s", id, d, rc, code)
}
