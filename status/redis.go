package status

// The Redis settings that decide the promises, read by the apply layer's
// own start check (internal/redischeck): persistence, the eviction policy,
// memory against maxmemory, connected replicas against the apply layer's
// --min-replicas.

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redischeck"
)

// MemoryWarnFraction is the used_memory / maxmemory at or above which
// Redis needs attention (redischeck.MemoryWarnFraction, 90%).
const MemoryWarnFraction = redischeck.MemoryWarnFraction

// Redis is the Redis configuration as status reads it.
type Redis struct {
	// The settings and findings of the apply layer's start check
	// (appendonly, save, maxmemory_policy, maxmemory, used_memory,
	// connected_replicas, findings).
	*redischeck.Report
	// MemoryFraction is used_memory / maxmemory; absent without a limit.
	MemoryFraction *float64 `json:"memory_fraction,omitempty"`
	// MinReplicas is the apply layer's --min-replicas as given to status
	// (0: not checked).
	MinReplicas int `json:"min_replicas"`
	// UnsafeAllowed says that refusing findings were reported without
	// counting as needing attention (Options.AllowUnsafeRedis).
	UnsafeAllowed bool `json:"unsafe_allowed"`
	// Error is why the settings could not be read, when AllowUnsafeRedis
	// let status go on without them (an embedded miniredis has no CONFIG).
	Error string `json:"error,omitempty"`
}

// readRedis reads the Redis configuration. Without AllowUnsafeRedis a
// failure to read it is an error (status could not check), and each setting
// that breaks a promise needs attention; a Redis at or over
// MemoryWarnFraction of maxmemory, and fewer connected replicas than
// MinReplicas, need attention either way.
func readRedis(ctx context.Context, rdb redis.Cmdable, opt Options, _ time.Time, r *Report) error {
	r.Redis = &Redis{MinReplicas: opt.MinReplicas, UnsafeAllowed: opt.AllowUnsafeRedis}
	rep, err := redischeck.Check(ctx, rdb)
	if err != nil {
		if !opt.AllowUnsafeRedis {
			return fmt.Errorf("read the Redis configuration: %w", err)
		}
		r.Redis.Error = err.Error()
		return nil
	}
	r.Redis.Report = rep
	if !opt.AllowUnsafeRedis {
		for _, f := range rep.Refusals() {
			r.attention("Redis %s", f)
		}
	}
	if frac, ok := rep.MemoryFraction(); ok {
		r.Redis.MemoryFraction = &frac
		if rep.MemoryNearLimit() {
			r.attention("Redis used_memory %s is %.0f%% of maxmemory %s (attention from %.0f%%): at maxmemory every write is refused and no plan executes; raise maxmemory or shorten retention (docs/deploy.md, sizing)",
				mib(rep.UsedMemory), 100*frac, mib(rep.Maxmemory), 100*MemoryWarnFraction)
		}
	}
	if opt.MinReplicas > 0 && rep.Replicas < opt.MinReplicas {
		r.attention("Redis has %d connected replica(s), under --min-replicas %d: the apply layer sends nothing (FAILED REDIS_NOT_REPLICATED)", rep.Replicas, opt.MinReplicas)
	}
	return nil
}

// Lines renders the Redis settings for people, one line each.
func (rd *Redis) Lines() []string {
	if rd == nil {
		return nil
	}
	if rd.Report == nil {
		return []string{"configuration not read: " + rd.Error}
	}
	persistence := "appendonly " + rd.AppendOnly
	switch {
	case rd.Save != "":
		persistence += fmt.Sprintf(", save %q", rd.Save)
	case rd.Source == redischeck.SourceConfig:
		persistence += `, save ""`
	default:
		persistence += ", save unknown (CONFIG GET refused)"
	}
	if rd.Appendfsync != "" {
		persistence += ", appendfsync " + rd.Appendfsync
	}
	memory := "used_memory " + mib(rd.UsedMemory) + ", maxmemory none"
	if rd.UsedMemory < 0 {
		memory = "used_memory unknown"
	}
	if rd.MemoryFraction != nil {
		memory = fmt.Sprintf("used_memory %s of maxmemory %s (%.0f%%)", mib(rd.UsedMemory), mib(rd.Maxmemory), 100**rd.MemoryFraction)
	}
	replicas := fmt.Sprintf("connected replicas %d", rd.Replicas)
	if rd.MinReplicas > 0 {
		replicas += fmt.Sprintf(", --min-replicas %d", rd.MinReplicas)
	}
	out := []string{persistence, "maxmemory-policy " + orDash(rd.MaxmemoryPolicy), memory, replicas}
	for _, f := range rd.Findings {
		tag := "warning"
		switch {
		case f.Refuse && rd.UnsafeAllowed:
			tag = "UNSAFE (allowed)"
		case f.Refuse:
			tag = "UNSAFE"
		}
		out = append(out, tag+": "+f.String())
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
