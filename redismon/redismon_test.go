package redismon_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/redismon"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func gather(t *testing.T, c prometheus.Collector) map[string][]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] = append(out[mf.GetName()], m.GetGauge().GetValue())
		}
	}
	return out
}

// TestCollect: heartbeats as written by the watch, Redis memory from INFO;
// a job without a heartbeat exports nothing, and an unreachable Redis
// exports scrape_ok 0 and nothing else.
func TestCollect(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	env.Client.HSet(ctx, env.Keys.Heartbeat("exit-owner-watch"), "last_run_at", "1700000100", "last_ok_at", "1700000000", "interval_sec", "300")
	got := gather(t, redismon.New(env.Client, env.Keys, []string{"exit-owner-watch", "exit-owner-follow"}))
	want := map[string]float64{
		"quantum_redis_scrape_ok": 1, "quantum_heartbeat_last_run_timestamp_seconds": 1700000100,
		"quantum_heartbeat_last_ok_timestamp_seconds": 1700000000, "quantum_heartbeat_interval_seconds": 300,
	}
	for name, v := range want {
		if len(got[name]) != 1 || got[name][0] != v {
			t.Errorf("%s = %v, want [%v] (the follower has no heartbeat: no sample)", name, got[name], v)
		}
	}
	if u := got["quantum_redis_used_memory_bytes"]; len(u) != 1 || u[0] <= 0 {
		t.Errorf("used memory %v", u)
	}
	if _, ok := got["quantum_redis_maxmemory_bytes"]; !ok {
		t.Errorf("no maxmemory")
	}

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer dead.Close()
	got = gather(t, redismon.New(dead, env.Keys, []string{"exit-owner-watch"}))
	if len(got) != 1 || len(got["quantum_redis_scrape_ok"]) != 1 || got["quantum_redis_scrape_ok"][0] != 0 {
		t.Fatalf("unreachable Redis exported %v, want only scrape_ok 0", got)
	}
}

func TestParseInfo(t *testing.T) {
	m := redismon.ParseInfo("# Memory\r\nused_memory:1024\r\nmaxmemory:0\r\n\r\n")
	if m["used_memory"] != "1024" || m["maxmemory"] != "0" || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}
