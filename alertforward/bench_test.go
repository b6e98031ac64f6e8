package alertforward_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alertforward"
	"github.com/quantumtrader/quantum/internal/amtest"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
)

// BenchmarkDrainToAlertmanager measures one alert entry forwarded to a
// real Alertmanager and acknowledged: XREADGROUP (batches of 100), one
// POST /api/v2/alerts per entry, XACK. Each op drains 100 entries;
// ns/alert is the time per entry.
func BenchmarkDrainToAlertmanager(b *testing.B) {
	env := redistest.New(b)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: env.Server.Socket(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	am := amtest.Start(b, 0)
	ctx := context.Background()
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		ks := keys.MustNew(env.Keys.Prefix() + "-" + strconv.Itoa(round))
		pipe := rdb.Pipeline()
		for i := range 100 {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: ks.Alerts(), Values: []any{
				"alert_type", "EXIT_OWNER_VIOLATION", "status", "firing", "severity", "critical",
				"alert_id", "bench-" + strconv.Itoa(round) + "-" + strconv.Itoa(i), "deny_count", "3", "window", "5min",
				"timestamp", "1796112082", "started_at", "1796112082", "sources", "rogue_service", "symbols", "BTCUSDT",
			}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		fwd, err := alertforward.New(alertforward.Config{Redis: rdb, Keys: ks, Consumer: "bench", Alertmanagers: []string{am.URL()}, Now: time.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := fwd.Drain(ctx)
		if err != nil || n != 100 {
			b.Fatalf("Drain: %d %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(round*100), "ns/alert")
}
