package watch

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Follow watches until ctx is done: a full check of the window (as Run,
// recorded under JobFollow), then a blocking read (XREAD BLOCK) of every
// result written after the newest one it has read. A batch that holds a
// real denial inside the window raises the alert at once, with the window's
// count kept in memory since the last full check; results older than the
// window drop out of that count as the clock moves. Every Interval a full
// check runs again: it re-notifies a still-firing incident when the repeat
// interval has passed, resolves it when the window is clean, and corrects
// the memory from Redis.
//
// Follow shares the alert's dedupe state with Run (package alert decides in
// one Lua script), so a timer and a follower may run side by side with the
// same window: the first to see a new incident publishes, the other holds.
//
// A failed read or alert is logged, recorded in the heartbeat when Redis
// allows, and retried after a backoff (0.5s doubling to 30s) with a full
// check, so a Redis restart is survived and nothing written meanwhile is
// missed. Follow returns when ctx is done (SIGTERM), after the call in
// progress has returned; the client must honour the context on blocking
// reads (go-redis: ContextTimeoutEnabled).
func (w *Watcher) Follow(ctx context.Context) {
	stream := w.cfg.Keys.ApplyResult()
	w.log.Info(Tag+" following", "stream", stream, "window", w.cfg.Window.String(),
		"rescan_every", w.cfg.Interval.String(), "repeat_interval", w.cfg.RepeatInterval.String())
	var (
		t       *tally // nil: a full check is due at once
		next    time.Time
		backoff = newBackoff()
	)
	for ctx.Err() == nil {
		if now := w.cfg.Now(); t == nil || !now.Before(next) {
			_, nt, err := w.check(ctx, JobFollow, now)
			if err != nil {
				t = nil
				backoff.wait(ctx)
				continue
			}
			t, next = nt, now.Add(w.cfg.Interval)
			backoff.reset()
		}
		res, err := w.cfg.Redis.XRead(ctx, &redis.XReadArgs{
			Streams: []string{stream, t.last.String()}, Count: w.cfg.PageSize, Block: w.cfg.Block,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil && ctx.Err() != nil:
			continue
		case err != nil:
			w.log.Error(Tag+" follow: blocking read failed; retrying with a full check", "stream", stream, "error", err)
			t = nil
			backoff.wait(ctx)
			continue
		}
		fresh, err := t.addStreams(res)
		if err != nil {
			w.log.Error(Tag+" follow: unreadable result; retrying with a full check", "error", err)
			t = nil
			backoff.wait(ctx)
			continue
		}
		if !fresh {
			continue
		}
		now := w.cfg.Now()
		t.prune(cutoff(now, w.cfg.Window))
		if len(t.denials) == 0 {
			continue // the new denials are already older than the window (a skewed clock)
		}
		rep := t.report(now, w.cfg.Window)
		rep.Scanned = 0 // the follower's count since the last check says nothing useful here
		if err := w.decide(ctx, JobFollow, rep); err != nil {
			t = nil
			backoff.wait(ctx)
		}
	}
	w.log.Info(Tag + " follow stopped")
}

// addStreams counts an XREAD reply; it reports whether it held a real
// denial.
func (t *tally) addStreams(res []redis.XStream) (bool, error) {
	fresh := false
	for _, s := range res {
		for _, m := range s.Messages {
			d, err := t.add(m)
			if err != nil {
				return fresh, err
			}
			fresh = fresh || d
		}
	}
	return fresh, nil
}

// backoff spaces retries after failures: 0.5s, doubling, at most 30s.
type backoff struct{ d time.Duration }

const (
	backoffMin = 500 * time.Millisecond
	backoffMax = 30 * time.Second
)

func newBackoff() *backoff { return &backoff{d: backoffMin} }

func (b *backoff) reset() { b.d = backoffMin }

// wait sleeps for the current delay, or until ctx is done, then doubles it.
func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.d = min(2*b.d, backoffMax)
}
