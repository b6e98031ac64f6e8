package applylayer

// The consume stage: the read loop over the plan stream's consumer group,
// claiming entries left pending by dead consumers, and waiting out Redis
// outages. Each batch read goes to handleBatch (batch.go).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/internal/streamid"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
	"github.com/redis/go-redis/v9"
)

// Run consumes plans until ctx is done, then finishes the batch in hand and
// returns. Redis outages are waited out: Run returns only on ctx.
func (s *Service) Run(ctx context.Context, ready func()) error {
	work := context.WithoutCancel(ctx) // in-flight plans finish after a SIGTERM
	backoff := newBackoff()
	for ctx.Err() == nil {
		if err := s.ensureGroup(ctx); err != nil {
			s.outage(ctx, backoff, "create consumer group", err)
			continue
		}
		break
	}
	if ctx.Err() != nil {
		return nil
	}
	s.refreshPolicy(ctx)
	if !s.cfg.Shadow { // from now on every new record is indexed by client order id (reconcile.go)
		s.rdb.SetArgs(ctx, s.cfg.State.ApplyOrderIndexSince(), time.Now().Unix(), redis.SetArgs{Mode: "NX"})
	}
	if ready != nil {
		ready()
	}
	s.cfg.Log.Info("apply layer consuming", "stream", s.cfg.Keys.ApplyPlan(), "group", s.cfg.Group,
		"consumer", s.cfg.Consumer, "auth", s.authMode(), "exit_owner", s.cfg.Gate.ExitOwner)
	if s.cfg.AuthOff {
		s.cfg.Log.Warn("AUTH OFF: plan sources are NOT authenticated; any Redis client can act as any source, the exit owner included. Use only while migrating producers to signed plans.")
	}
	nextClaim := time.Time{}
loop:
	for ctx.Err() == nil {
		s.lastLoop.Store(time.Now().UnixNano())
		s.checkStream(ctx)
		s.housekeep(ctx)
		s.reconcile(ctx)
		if time.Now().After(nextClaim) {
			if err := s.claim(ctx, work); err != nil && ctx.Err() == nil {
				s.outage(ctx, backoff, "claim pending plans", err)
				continue
			}
			nextClaim = time.Now().Add(max(s.cfg.ClaimIdle/2, 100*time.Millisecond))
		}
		entries, err := s.readGroup(ctx)
		if err == nil || errors.Is(err, redis.Nil) {
			s.lastRead.Store(time.Now().UnixNano())
		}
		switch {
		case errors.Is(err, redis.Nil):
			s.observeLag(ctx)
			continue
		case err != nil && ctx.Err() != nil:
			break loop // stopped during the read: end as every stop does
		case err != nil:
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				s.ensureGroup(ctx)
			}
			s.outage(ctx, backoff, "read plans", err)
			continue
		}
		backoff.reset()
		s.handleBatch(work, entries)
	}
	s.cfg.Log.Info("apply layer stopped", "consumer", s.cfg.Consumer)
	s.leaveGroup(work)
	return nil
}

func (s *Service) authMode() string {
	if s.cfg.AuthOff {
		return "off"
	}
	return "required"
}

// Healthy reports whether the consume loop ran within the last interval
// (the process is alive: the systemd watchdog).
func (s *Service) Healthy(within time.Duration) bool {
	return time.Since(time.Unix(0, s.lastLoop.Load())) < within
}

// Reading reports whether the plan stream was read successfully within the
// last interval: false during a Redis outage, a lost permission or a
// deleted group, when no plan can be served (/healthz).
func (s *Service) Reading(within time.Duration) bool {
	return time.Since(time.Unix(0, s.lastRead.Load())) < within
}

// PolicyStatus returns the reason code of the policy in use: "" when a
// valid policy is loaded, POLICY_MISSING before the first read.
func (s *Service) PolicyStatus() reason.Code {
	if c, ok := s.polCode.Load().(reason.Code); ok {
		return c
	}
	return reason.PolicyMissing
}

func (s *Service) ensureGroup(ctx context.Context) error {
	start, err := s.groupStart(ctx)
	if err != nil {
		return err
	}
	err = s.rdb.XGroupCreateMkStream(ctx, s.cfg.Keys.ApplyPlan(), s.cfg.Group, start).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	if err == nil && start != "0" {
		s.cfg.Log.Warn("consumer group created after the last result: earlier plans are not read again",
			"group", s.cfg.Group, "after_entry", start)
	}
	return nil
}

// groupStart is where a new group starts reading: after the oldest plan
// entry among the newest results (plans up to there have results; a group
// deleted and created again must not re-read the whole history before new
// plans), or at the beginning when there are no results.
func (s *Service) groupStart(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.cfg.Results, "+", "-", groupStartLookback).Result()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", s.cfg.Results, err)
	}
	var start *streamid.ID
	for _, m := range msgs {
		id, err := streamid.Parse(plan.ParseResult(m.Values).PlanEntryID)
		if err == nil && (start == nil || id.Less(*start)) {
			start = &id
		}
	}
	if start == nil {
		return "0", nil
	}
	return start.String(), nil
}

// groupStartLookback is how many of the newest results groupStart reads:
// enough to span what replicas finish out of order (a variable for tests).
var groupStartLookback int64 = 1000

// leaveGroup removes this consumer from the group when it holds no pending
// entry, so restarts do not pile up dead consumer names.
func (s *Service) leaveGroup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.cfg.Keys.ApplyPlan(), Group: s.cfg.Group, Consumer: s.cfg.Consumer, Start: "-", End: "+", Count: 1,
	}).Result()
	if err == nil && len(p) == 0 {
		s.rdb.XGroupDelConsumer(ctx, s.cfg.Keys.ApplyPlan(), s.cfg.Group, s.cfg.Consumer)
	}
}

// claim takes over entries left pending by dead consumers.
func (s *Service) claim(ctx, work context.Context) error {
	start := "0-0"
	for ctx.Err() == nil {
		msgs, next, err := s.autoClaim(ctx, start)
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			s.cfg.Log.Info("claimed pending plans", "count", len(msgs), "idle_at_least", s.cfg.ClaimIdle)
			s.handleBatch(work, msgs)
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
	return nil
}

func (s *Service) outage(ctx context.Context, b *backoff, what string, err error) {
	d := b.next()
	if b.shouldLog() {
		s.cfg.Log.Error("redis unavailable: retrying", "op", what, "error", err, "retry_in", d)
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.redisErrors.Inc()
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// observeLag records the group's lag when the stream is idle.
func (s *Service) observeLag(ctx context.Context) {
	if s.cfg.Metrics == nil {
		return
	}
	s.observePolicy()
	groups, err := s.rdb.XInfoGroups(ctx, s.cfg.Keys.ApplyPlan()).Result()
	if err != nil {
		return
	}
	for _, g := range groups {
		if g.Name == s.cfg.Group {
			s.cfg.Metrics.lag.Set(float64(g.Lag))
			s.cfg.Metrics.pending.Set(float64(g.Pending))
		}
	}
}
