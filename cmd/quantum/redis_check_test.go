package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/internal/redistest"
)

// TestCheckRedisConfig: the start check refuses a non-persistent and an
// evicting Redis naming the setting and its fix, and lets them through,
// loudly, only when allowed.
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
		if _, err := checkRedisConfig(ctx, c, false, log); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("%v: %v\n%s", tc.args, err, logs.String())
		}
		logs.Reset()
		if rep, err := checkRedisConfig(ctx, c, true, log); err != nil || rep == nil || !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("%v allowed: %v\n%s", tc.args, err, logs.String())
		}
		c.Close()
	}
	c := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--maxmemory", "64mb"}}).Client()
	defer c.Close()
	if _, err := checkRedisConfig(ctx, c, false, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("safe Redis refused: %v", err)
	}
}
