package watch_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/watch"
)

// TestOpenRaisesThroughItsOwnPublisher: Open wires the alert publisher on
// the same Redis and prefix, so a denial found by a run is alerted on that
// prefix's alert stream, and the run's heartbeat is written there too.
func TestOpenRaisesThroughItsOwnPublisher(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	if err := env.Client.XAdd(ctx, &redis.XAddArgs{Stream: env.Keys.ApplyResult(), Values: []any{
		"plan_id", "p1", "source", "rogue", "symbol", "BTCUSDT", "decision", "DENIED", "reason", "DENY_NOT_EXIT_OWNER", "canary", "false",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	w, err := watch.Open(env.Client, watch.Config{Keys: env.Keys, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := w.Run(ctx)
	if err != nil || rep.Denials != 1 {
		t.Fatalf("run: %+v, %v", rep, err)
	}
	alerts := redistest.StreamEntries(t, env.Client, env.Keys.Alerts())
	if len(alerts) != 1 || alerts[0]["alert_type"] != "EXIT_OWNER_VIOLATION" || alerts[0]["first_plan_id"] != "p1" {
		t.Fatalf("alerts %v", alerts)
	}
	if h, err := env.Client.HGetAll(ctx, env.Keys.Heartbeat(watch.JobTimer)).Result(); err != nil || h["outcome"] != "denials" {
		t.Fatalf("heartbeat %v, %v", h, err)
	}
	if _, err := watch.Open(env.Client, watch.Config{Keys: env.Keys}); err == nil {
		t.Fatal("opened without a clock")
	}
}
