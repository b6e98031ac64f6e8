package redischeck_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/internal/redistest"
)

// TestCheckRedisConfig: the start check (Enforce) refuses a non-persistent
// and an evicting Redis naming the setting and its fix, and lets them
// through, loudly, only when allowed.
func TestCheckRedisConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "appendonly/save appendonly no, save \"\""},
		{[]string{"--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"}, "maxmemory-policy volatile-lru"},
	} {
		c := redistest.Start(t, redistest.Options{Args: tc.args}).Client()
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		if _, err := redischeck.Enforce(ctx, c, false, log); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("%v: %v\n%s", tc.args, err, logs.String())
		}
		logs.Reset()
		if rep, err := redischeck.Enforce(ctx, c, true, log); err != nil || rep == nil || !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("%v allowed: %v\n%s", tc.args, err, logs.String())
		}
		c.Close()
	}
	c := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--maxmemory", "64mb"}}).Client()
	defer c.Close()
	if _, err := redischeck.Enforce(ctx, c, false, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("safe Redis refused: %v", err)
	}
}

// TestAwaitSafe: the daemon's start check returns the findings of a safe
// Redis, refuses an unsafe one at once (no retry), and keeps waiting for a
// Redis it cannot read, logging each attempt, until its context ends.
func TestAwaitSafe(t *testing.T) {
	ctx := context.Background()
	safe := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--maxmemory", "64mb"}}).Client()
	defer safe.Close()
	if findings, err := redischeck.AwaitSafe(ctx, safe, false, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("safe Redis refused: %v (findings %v)", err, findings)
	}
	unsafe := redistest.Start(t, redistest.Options{}).Client()
	defer unsafe.Close()
	if _, err := redischeck.AwaitSafe(ctx, unsafe, false, slog.New(slog.DiscardHandler)); !errors.Is(err, redischeck.ErrUnsafe) {
		t.Fatalf("unsafe Redis: %v, want ErrUnsafe", err)
	}
	findings, err := redischeck.AwaitSafe(ctx, unsafe, true, slog.New(slog.DiscardHandler))
	if err != nil || len(findings) == 0 || !strings.Contains(strings.Join(findings, "\n"), "appendonly") {
		t.Fatalf("allowed unsafe Redis: findings %q, %v; want the persistence finding", findings, err)
	}

	down := redis.NewClient(&redis.Options{Network: "unix", Addr: filepath.Join(t.TempDir(), "none.sock"), MaxRetries: -1})
	defer down.Close()
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := redischeck.AwaitSafe(ctx, down, false, slog.New(slog.NewTextHandler(&logs, nil))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unreachable Redis: %v, want the context's end", err)
	}
	if n := strings.Count(logs.String(), "cannot read Redis yet, retrying"); n < 2 {
		t.Fatalf("%d retry lines in 3s, want at least 2 (one every 2s):\n%s", n, logs.String())
	}
}
