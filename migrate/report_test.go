package migrate_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/migrate"
	"github.com/quantumtrader/quantum/plan"
)

// TestSummarizePeriod: a period with no shadow result is an error naming
// the stream; results older than the period are not counted; one would-be
// denial or failure makes the summary not ready, executed or skipped plans
// do not.
func TestSummarizePeriod(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client()
	defer rdb.Close()
	var last redis.UniversalClient
	dial := func() (redis.UniversalClient, error) { last = srv.Client(); return last, nil }
	ks := keys.MustNew("reporttest")
	now := time.Now()
	if _, err := migrate.SummarizePeriod(ctx, dial, ks, now, time.Hour); err == nil || !strings.Contains(err.Error(), ks.ApplyShadow()) {
		t.Fatalf("no shadow result: %v, want an error naming %s", err, ks.ApplyShadow())
	}
	add := func(at time.Time, decision plan.Outcome, code string) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyShadow(), ID: strconv.FormatInt(at.UnixMilli(), 10) + "-*",
			Values: []string{plan.ResultDecision, string(decision), plan.ResultReason, code, plan.ResultSource, "p1"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	add(now.Add(-2*time.Hour), plan.Denied, "DENY_NOT_EXIT_OWNER") // before the period
	add(now.Add(-time.Minute), plan.Executed, "")
	add(now.Add(-time.Second), plan.Skipped, "")
	s, err := migrate.SummarizePeriod(ctx, dial, ks, now, time.Hour)
	if err != nil || s.Total != 2 || !s.Ready() {
		t.Fatalf("executed and skipped in the period: %+v, %v; want 2 results, ready", s, err)
	}
	if s, err = migrate.SummarizePeriod(ctx, dial, ks, now, 0); err != nil || s.Total != 3 || s.Ready() {
		t.Fatalf("everything, with a denial: %+v, %v; want 3 results, not ready", s, err)
	}
	add(now.Add(-time.Millisecond), plan.Failed, "VENUE_ERROR")
	if s, err = migrate.SummarizePeriod(ctx, dial, ks, now, time.Hour); err != nil || s.Ready() {
		t.Fatalf("a would-be failure: %+v, %v; want not ready", s, err)
	}
	if err := last.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client left open: %v", err)
	}
}
