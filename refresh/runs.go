package refresh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Runs records the refreshes in progress, so that the next run finds one
// that was killed before it finished (SIGKILL, OOM, a reboot) and records
// it in the audit trail: a killed run leaves nothing else behind.
type Runs interface {
	// Begin records a run starting at now and returns its id and the runs
	// found interrupted, each returned to exactly one caller.
	Begin(ctx context.Context, now time.Time) (id string, interrupted []Run, err error)
	// End removes the run's record.
	End(ctx context.Context, id string) error
}

// Run is a recorded run.
type Run struct {
	ID      string
	Host    string
	PID     int
	Started time.Time
}

// RedisRuns keeps the runs in progress in one hash (keys.Space.RefreshRuns),
// a field per run: host/pid/start, valued with the start in unix ms.
//
// A recorded run is interrupted when it ran on this host and its process is
// gone, or when it started longer than Stale ago (no run lasts that long:
// the generator is killed at its timeout). The HDEL that removes it decides
// which of two concurrent runs audits it.
type RedisRuns struct {
	Redis redis.Cmdable
	Key   string
	Stale time.Duration // 0 means DefaultGeneratorTimeout + 1 minute
}

// Begin implements Runs.
func (rr RedisRuns) Begin(ctx context.Context, now time.Time) (string, []Run, error) {
	stale := rr.Stale
	if stale <= 0 {
		stale = DefaultGeneratorTimeout + time.Minute
	}
	host, _ := os.Hostname()
	all, err := rr.Redis.HGetAll(ctx, rr.Key).Result()
	if err != nil {
		return "", nil, fmt.Errorf("run records: %w", err)
	}
	var out []Run
	for field, v := range all {
		run := parseRun(field, v)
		dead := run.Host == host && run.PID > 0 && !alive(run.PID)
		if !dead && now.Sub(run.Started) < stale {
			continue // running, most likely elsewhere
		}
		n, err := rr.Redis.HDel(ctx, rr.Key, field).Result()
		if err != nil {
			return "", nil, fmt.Errorf("run records: %w", err)
		}
		if n == 1 {
			out = append(out, run)
		}
	}
	id := fmt.Sprintf("%s/%d/%d", host, os.Getpid(), now.UnixNano())
	if err := rr.Redis.HSet(ctx, rr.Key, id, strconv.FormatInt(now.UnixMilli(), 10)).Err(); err != nil {
		return "", nil, fmt.Errorf("run records: %w", err)
	}
	return id, out, nil
}

// End implements Runs.
func (rr RedisRuns) End(ctx context.Context, id string) error {
	return rr.Redis.HDel(ctx, rr.Key, id).Err()
}

func parseRun(field, value string) Run {
	r := Run{ID: field}
	parts := strings.Split(field, "/")
	if len(parts) == 3 {
		r.Host = parts[0]
		r.PID, _ = strconv.Atoi(parts[1])
	}
	if ms, err := strconv.ParseInt(value, 10, 64); err == nil {
		r.Started = time.UnixMilli(ms)
	}
	return r
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill(0)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
