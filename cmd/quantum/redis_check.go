package main

import (
	"context"
	"log/slog"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redischeck"
)

// checkRedisConfig is the start check of a command that must not run on an
// unsafe Redis (the apply layer): define its flag as
//
//	allow := c.FS.Bool(redischeck.AllowFlag, redischeck.Allowed(c.Env.Getenv(redischeck.AllowEnv)), redischeck.AllowUsage)
//
// checkRedisConfig reads rdb's persistence and eviction settings and
// returns the refusal naming each unsafe setting and its fix, unless allow;
// allowed or not, every finding is logged (warn for a refusal that was
// allowed). The report is returned for status and metrics.
func checkRedisConfig(ctx context.Context, rdb cli.RedisClient, allow bool, log *slog.Logger) (*redischeck.Report, error) {
	rep, err := redischeck.Check(ctx, rdb)
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
