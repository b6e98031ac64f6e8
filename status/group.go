package status

// The apply layer's consumer group on the plan stream, its backlog, and traces of tampering on the stream.

import (
	"context"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/internal/planstream"
	"github.com/redis/go-redis/v9"
)

// readStream looks for traces of tampering on the plan stream (package
// planstream): plans deleted before they were read, a far-future id.
func readStream(ctx context.Context, rdb redis.Cmdable, opt Options, _ time.Time, r *Report) error {
	found, err := planstream.Inspect(ctx, rdb, opt.Keys, opt.Group)
	if err != nil {
		return err
	}
	r.Tampered = append([]planstream.Finding{}, found...)
	for _, f := range found {
		r.attention("plan stream tampered (PLAN_STREAM_TAMPERED %s): %s", f.Kind, f.Detail)
	}
	return nil
}

func readGroup(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	g := &r.Group
	g.Consumers = []Consumer{}
	g.Lag = -1
	stream := opt.Keys.ApplyPlan()
	n, err := rdb.XLen(ctx, stream).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	g.PlanLen = n
	if n == 0 {
		if ex, err := rdb.Exists(ctx, stream).Result(); err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		} else if ex == 0 {
			r.attention("no apply layer has ever consumed %s (no stream, no group %s)", stream, opt.Group)
			return nil
		}
	}
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return fmt.Errorf("XINFO GROUPS %s: %w", stream, err)
	}
	lastDelivered := ""
	for _, gr := range groups {
		if gr.Name != opt.Group {
			continue
		}
		g.Exists, g.Pending, lastDelivered = true, gr.Pending, gr.LastDeliveredID
	}
	if !g.Exists {
		r.attention("no consumer group %s on %s: no apply layer has started", opt.Group, stream)
		return nil
	}
	if g.Lag, err = countAfter(ctx, rdb, stream, lastDelivered, BacklogLimit+1); err != nil {
		return err
	}
	// XPENDING's count is the group's pending, and the same on every
	// Redis-protocol server (miniredis's XINFO GROUPS differs).
	pend, err := rdb.XPending(ctx, stream, opt.Group).Result()
	if err != nil {
		return fmt.Errorf("XPENDING %s %s: %w", stream, opt.Group, err)
	}
	g.Pending = pend.Count
	cs, err := rdb.XInfoConsumers(ctx, stream, opt.Group).Result()
	if err != nil {
		return fmt.Errorf("XINFO CONSUMERS %s %s: %w", stream, opt.Group, err)
	}
	live := 0
	for _, c := range cs {
		// miniredis reports -1ms for a consumer that never read.
		g.Consumers = append(g.Consumers, Consumer{Name: c.Name, Pending: c.Pending, IdleMs: max(0, c.Idle.Milliseconds())})
		if c.Idle < LiveConsumerIdle {
			live++
		}
	}
	// An idle consumer cannot be told from a dead one (before Redis 7.2 a
	// read that finds nothing does not reset idle, nor create the
	// consumer): only plans waiting with no consumer at work need someone.
	if waiting := g.Pending + max(0, g.Lag); waiting > 0 && live == 0 {
		r.attention("%d plan(s) waiting (pending %d, lag %d) and no apply-layer consumer active in the last %s", waiting, g.Pending, g.Lag, LiveConsumerIdle)
	}
	if backlog := g.Pending + max(0, g.Lag); backlog > BacklogLimit {
		r.attention("apply-layer backlog %d plans (pending %d, lag %d) over %d", backlog, g.Pending, g.Lag, BacklogLimit)
	}
	return nil
}

// countAfter counts the stream's entries after id, up to limit: the
// group's lag, computed from the stream itself. XINFO GROUPS's lag is
// Redis 7's estimate, absent on older servers and wrong on miniredis
// (quantum dev), so it is not read.
func countAfter(ctx context.Context, rdb redis.Cmdable, stream, id string, limit int64) (int64, error) {
	start := "-"
	if id != "" && id != "0-0" {
		start = "(" + id
	}
	msgs, err := rdb.XRangeN(ctx, stream, start, "+", limit).Result()
	if err != nil {
		return 0, fmt.Errorf("XRANGE %s: %w", stream, err)
	}
	return int64(len(msgs)), nil
}
