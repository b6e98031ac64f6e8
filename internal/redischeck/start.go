package redischeck

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Enforce is the start check of a command that must not run on an unsafe
// Redis (the apply layer): define its flag as
//
//	allow := c.FS.Bool(redischeck.AllowFlag, redischeck.Allowed(c.Env.Getenv(redischeck.AllowEnv)), redischeck.AllowUsage)
//
// Enforce reads rdb's persistence and eviction settings and returns the
// refusal naming each unsafe setting and its fix, unless allow; allowed or
// not, every finding is logged (warn for a refusal that was allowed). The
// report is returned for status and metrics.
func Enforce(ctx context.Context, rdb redis.UniversalClient, allow bool, log *slog.Logger) (*Report, error) {
	rep, err := Check(ctx, rdb)
	if err != nil {
		return nil, err
	}
	for _, f := range rep.Findings {
		level := slog.LevelWarn
		if f.Refuse && !allow {
			level = slog.LevelError
		}
		log.Log(ctx, level, "Redis configuration: "+f.Problem, "setting", f.Setting, "value", f.Value, "fix", f.Fix, "node", f.Node, "refuse", f.Refuse && !allow)
	}
	if err := rep.Err(); err != nil && !allow {
		return rep, err
	}
	return rep, nil
}

// AwaitSafe runs Enforce before a daemon starts: an unsafe Redis (no
// persistence, evicting keys) is refused unless allowed; a Redis that
// cannot be read yet is waited for (every 2s, until ctx ends), as the
// apply layer's consume loop waits out outages. It returns the findings
// as "setting value: problem" lines, for /healthz.
func AwaitSafe(ctx context.Context, rdb redis.UniversalClient, allow bool, log *slog.Logger) ([]string, error) {
	for {
		rep, err := Enforce(ctx, rdb, allow, log)
		switch {
		case err == nil:
			var out []string
			for _, f := range rep.Findings {
				out = append(out, f.Setting+" "+f.Value+": "+f.Problem)
			}
			return out, nil
		case errors.Is(err, ErrUnsafe):
			return nil, err
		}
		log.Error("Redis configuration check: cannot read Redis yet, retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
