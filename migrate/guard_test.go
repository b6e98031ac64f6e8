package migrate_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/migrate"
)

// foreignExecutor creates intent_executor's group on the plan stream and
// serves its consumer once, as the old executor is served on every plan.
func foreignExecutor(t *testing.T, rdb *redis.Client, stream string) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.XGroupCreateMkStream(ctx, stream, "intent_executor", "$").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"plan_id", "warmup"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "intent_executor", Consumer: "executor-1", Streams: []string{stream, ">"}, Count: 1, Block: time.Second}).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestGuard: beside a live foreign executor an enforcing start is refused
// naming the group and its consumer, allowed (as an ERROR line) with
// Allow, and let through in shadow mode; the apply layer's own groups are
// never foreign; Watch sets the gauge and logs while the executor lives.
func TestGuard(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t, redistest.Options{}).Client()
	defer rdb.Close()
	ks := keys.MustNew("guardtest")
	var logs bytes.Buffer
	g := migrate.Guard{Redis: rdb, Keys: ks, Group: keys.ApplyGroup, Log: slog.New(slog.NewTextHandler(&logs, nil)), Every: 10 * time.Millisecond}

	if msg, ok, err := g.Check(ctx); err != nil || !ok {
		t.Fatalf("no stream: refused (%q, %v)", msg, err)
	}
	if err := rdb.XGroupCreateMkStream(ctx, ks.ApplyPlan(), keys.ApplyGroup, "$").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XGroupCreate(ctx, ks.ApplyPlan(), keys.ApplyShadowGroup, "$").Err(); err != nil {
		t.Fatal(err)
	}
	if msg, ok, err := g.Check(ctx); err != nil || !ok {
		t.Fatalf("our own groups refused the start: %q, %v", msg, err)
	}
	foreignExecutor(t, rdb, ks.ApplyPlan())
	msg, ok, err := g.Check(ctx)
	if err != nil || ok || !strings.Contains(msg, "intent_executor: executor-1 (idle") || !strings.Contains(msg, "--allow-foreign-groups") {
		t.Fatalf("enforce beside a live executor: ok=%v %q %v", ok, msg, err)
	}
	allowed := g
	allowed.Allow = true
	if _, ok, err := allowed.Check(ctx); !ok || err != nil || !strings.Contains(logs.String(), "level=ERROR msg=\"FOREIGN CONSUMER GROUPS ALLOWED") {
		t.Fatalf("allowed: ok=%v %v\n%s", ok, err, logs.String())
	}
	shadow := g
	shadow.Shadow = true
	if _, ok, err := shadow.Check(ctx); !ok || err != nil {
		t.Fatalf("shadow refused: %v", err)
	}

	reg := prometheus.NewRegistry()
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	logs.Reset()
	g.Watch(wctx, reg)
	gauges, err := reg.Gather()
	if err != nil || len(gauges) != 1 || gauges[0].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("gauge: %v %v", gauges, err)
	}
	if !strings.Contains(logs.String(), "FOREIGN CONSUMER GROUPS LIVE") {
		t.Fatalf("watch did not log the live executor:\n%s", logs.String())
	}
}
