package watch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/watch"
)

// BenchmarkRun is one timer run over a window holding n results, one in
// a hundred of them a denial: the paged XRANGE of the whole window, the
// count, the alert script (held after the first run) and the heartbeat.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			ctx := context.Background()
			env := redistest.New(b)
			now := time.UnixMilli(ms0)
			pipe := env.Client.Pipeline()
			for i := range n {
				reason, canary := "", "false"
				if i%100 == 0 {
					reason = "DENY_NOT_EXIT_OWNER"
				}
				// Spread over the last 4 minutes, as the apply layer writes them.
				id := fmt.Sprintf("%d-%d", ms0-240_000+int64(i)*240_000/int64(n), i)
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: env.Keys.ApplyResult(), ID: id, Values: []any{
					"plan_id", fmt.Sprintf("plan-%d", i), "source", "intent_bridge", "symbol", "BTCUSDT",
					"decision", "EXECUTED", "executed", "true", "reason", reason, "error", reason,
					"policy_version", "1.0.0-ai-v1", "policy_seq", "42", "policy_hash", "ab12cd34",
					"client_order_id", fmt.Sprintf("q-%d", i), "exchange_order_id", "", "filled_qty", "0.01",
					"avg_price", "65000", "canary", canary, "timestamp", "1780000000", "plan_entry_id", id,
					"action", "ENTRY_PROPOSED", "side", "BUY", "order_status", "FILLED", "detail", "", "consumer", "c1",
				}})
				if i%1000 == 999 {
					if _, err := pipe.Exec(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			w := benchWatcher(b, env.Client, env.Keys, func() time.Time { return now })
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rep, err := w.Run(ctx)
				if err != nil || rep.Scanned != int64(n) || rep.Denials != int64((n+99)/100) {
					b.Fatalf("run: %v %+v", err, rep)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "results/s")
		})
	}
}

func benchWatcher(b *testing.B, rdb *redis.Client, ks keys.Space, now func() time.Time) *watch.Watcher {
	b.Helper()
	alerts, err := alert.New(rdb, alert.Options{Keys: ks, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	w, err := watch.New(watch.Config{Redis: rdb, Alerts: alerts, Keys: ks, Now: now, Block: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkFollowDelay measures, per op, the delay from a denial's XADD
// returning to the firing alert being read from the alert stream by a
// client blocked on it: the follower's wake-up, its count and the alert
// script, then the reader's wake-up. Each op is a new incident in a fresh
// namespace; the follower's start is not timed.
func BenchmarkFollowDelay(b *testing.B) {
	env := redistest.New(b)
	follow := redis.NewClient(&redis.Options{Network: "unix", Addr: env.Server.Socket(), ContextTimeoutEnabled: true, ReadTimeout: 5 * time.Second})
	defer follow.Close()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		ks := keys.MustNew(fmt.Sprintf("%s-%d", env.Keys.Prefix(), i))
		w := benchWatcher(b, follow, ks, time.Now)
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); w.Follow(fctx) }()
		for env.Client.Exists(ctx, ks.Heartbeat(watch.JobFollow)).Val() == 0 {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		if err := env.Client.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyResult(), Values: []any{
			"plan_id", "p1", "source", "rogue", "symbol", "BTCUSDT", "reason", "DENY_NOT_EXIT_OWNER", "canary", "false",
		}}).Err(); err != nil {
			b.Fatal(err)
		}
		if _, err := env.Client.XRead(ctx, &redis.XReadArgs{Streams: []string{ks.Alerts(), "0-0"}, Count: 1, Block: 10 * time.Second}).Result(); err != nil {
			b.Fatalf("no alert: %v", err)
		}
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
}
