// Package producer is the Go side of what a producing service does with a
// plan: sign it as its source, append it to quantum:stream:apply.plan, and
// await its result by plan_id on quantum:stream:apply.result. `quantum plan
// send`, the proofs, `quantum dev`'s simulator, the benchmarks and the tests
// all go through it, so there is one cursor rule for awaiting results.
//
// The cursor rule: a plan's result can only be written after the plan was
// read, so results are looked for after the newest result entry that
// existed before the plan was sent (Cursor, taken before Send). Plan entry
// ids are never taken as a clock: a producer may stamp a far-future id on
// the plan stream, and no result id has to follow it.
package producer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
)

// Redis is what the producer needs of a Redis client.
type Redis interface {
	XAdd(ctx context.Context, a *redis.XAddArgs) *redis.StringCmd
	XRead(ctx context.Context, a *redis.XReadArgs) *redis.XStreamSliceCmd
	XRevRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
}

// Signer signs plans as one source with that source's secret.
type Signer struct {
	Source string
	Secret []byte
}

// Sign returns a copy of fields with source set to the signer's and sig
// added over every other field.
func (s Signer) Sign(fields map[string]string) map[string]string {
	f := maps.Clone(fields)
	f[plan.FieldSource] = s.Source
	return plan.SignFields(f, s.Secret)
}

// Send appends fields, as they are, to the plan stream of ks, in byte order
// of the names (a stable layout for people reading the stream), and returns
// the entry id. Sign first; Send refuses nothing, so tests can send the
// malformed and unsigned plans a hostile producer would.
func Send(ctx context.Context, rdb Redis, ks keys.Space, fields map[string]string) (string, error) {
	vals := sortedValues(fields)
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyPlan(), Values: vals}).Result()
	if err != nil {
		return "", fmt.Errorf("send plan %s to %s: %w", fields[plan.FieldPlanID], ks.ApplyPlan(), err)
	}
	return id, nil
}

// Cursor returns the id after which the results of plans sent from now on
// will be: the newest result entry's id, or "0-0" when there is none.
func Cursor(ctx context.Context, rdb Redis, ks keys.Space) (string, error) {
	msgs, err := rdb.XRevRangeN(ctx, ks.ApplyResult(), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ks.ApplyResult(), err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Received is a result and when this process read it.
type Received struct {
	plan.Result
	Raw map[string]any // the entry as read, for plan.VerifyResult
	At  time.Time
}

// ErrNoResult is returned by Await when some results did not arrive in time.
var ErrNoResult = errors.New("no result")

// Await reads the result stream after cursor until each of planIDs has its
// result, or ctx is done, or wait has passed. It returns the results found
// by plan_id, each with the time it was read (the first result of each id
// after the cursor); when some are missing, an error wrapping ErrNoResult
// (the missing ids are those not in the map). Reads block at most a
// second at a time, so any client works (no ContextTimeoutEnabled needed).
func Await(ctx context.Context, rdb Redis, ks keys.Space, cursor string, wait time.Duration, planIDs ...string) (map[string]Received, error) {
	want := make(map[string]bool, len(planIDs))
	for _, id := range planIDs {
		want[id] = true
	}
	got := make(map[string]Received, len(planIDs))
	deadline := time.Now().Add(wait)
	for len(want) > 0 {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return got, fmt.Errorf("%w within %s", ErrNoResult, wait)
		}
		block := min(left, time.Second)
		streams, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{ks.ApplyResult(), cursor}, Count: 1000, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil || time.Now().After(deadline) {
				continue // reported by the check above
			}
			return got, fmt.Errorf("read %s: %w", ks.ApplyResult(), err)
		}
		now := time.Now()
		for _, st := range streams {
			for _, m := range st.Messages {
				cursor = m.ID
				r := plan.ParseResult(m.Values)
				if want[r.PlanID] {
					got[r.PlanID] = Received{Result: r, Raw: m.Values, At: now}
					delete(want, r.PlanID)
				}
			}
		}
	}
	return got, nil
}

// Pipeliner is what SendConfirmed needs: XADD and WAIT on one connection.
type Pipeliner interface {
	Pipeline() redis.Pipeliner
}

// SendConfirmed is Send followed by WAIT on the same connection: it returns
// how many replicas acknowledged the plan within timeout. A plain XADD
// reply does not survive an asynchronous failover; a plan is promised once
// confirmed by the replicas the deployment requires (docs/producers.md).
func SendConfirmed(ctx context.Context, rdb Pipeliner, ks keys.Space, fields map[string]string, replicas int, timeout time.Duration) (id string, acked int, err error) {
	vals := sortedValues(fields)
	pipe := rdb.Pipeline()
	add := pipe.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyPlan(), Values: vals})
	wait := pipe.Do(ctx, "WAIT", replicas, timeout.Milliseconds())
	pipe.Exec(ctx)
	if id, err = add.Result(); err != nil {
		return "", 0, fmt.Errorf("send plan %s to %s: %w", fields[plan.FieldPlanID], ks.ApplyPlan(), err)
	}
	n, err := wait.Int()
	if err != nil {
		return id, 0, fmt.Errorf("plan %s sent (entry %s), but WAIT failed: %w", fields[plan.FieldPlanID], id, err)
	}
	return id, n, nil
}

// sortedValues lays fields out for XADD in byte order of the names: a
// stable layout for people reading the stream.
func sortedValues(fields map[string]string) []any {
	vals := make([]any, 0, 2*len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		vals = append(vals, k, fields[k])
	}
	return vals
}
