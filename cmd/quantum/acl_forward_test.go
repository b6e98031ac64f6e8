package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/redismon"
	"github.com/quantumtrader/quantum/watch"
)

// TestACLAlertsForwarder: the quantum-alerts-forward user of
// deploy/redis/users.acl can run the forwarder and its Redis metrics, and
// can neither write alerts nor read plans or results.
func TestACLAlertsForwarder(t *testing.T) {
	ctx := context.Background()
	url := aclServer(t)
	ks := keys.MustNew(keys.DefaultPrefix)
	admin := aclClient(t, url("admin"))
	pub, err := alert.New(admin, alert.Options{Keys: ks, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Fire(ctx, alert.Alert{Type: alert.TypePolicyExpiring, Severity: alert.SeverityWarning, Count: alert.CountOccurrences, Window: time.Minute}, time.Hour); err != nil {
		t.Fatal(err)
	}
	admin.HSet(ctx, ks.Heartbeat(watch.JobTimer), "last_run_at", "1", "last_ok_at", "1", "interval_sec", "300")
	var got atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); got.Add(1) }))
	defer hook.Close()
	h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-alerts-forward")})
	h.run("alerts", "forward", "--once", "--webhook", hook.URL).want(t, 0)
	if got.Load() != 1 {
		t.Fatalf("webhook called %d times", got.Load())
	}

	fwd := aclClient(t, url("quantum-alerts-forward"))
	reg := prometheus.NewRegistry()
	reg.MustRegister(redismon.New(fwd, ks, []string{watch.JobTimer}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, mf := range mfs {
		seen[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	if seen["quantum_redis_scrape_ok"] != 1 || seen["quantum_heartbeat_last_ok_timestamp_seconds"] != 1 || seen["quantum_redis_used_memory_bytes"] <= 0 {
		t.Fatalf("redismon as the forwarder's user: %v", seen)
	}
	wantNoPerm(t, "forwarder XADD alert", fwd.XAdd(ctx, &redis.XAddArgs{Stream: ks.Alerts(), Values: []any{"status", "resolved"}}).Err())
	wantNoPerm(t, "forwarder XRANGE results", fwd.XRange(ctx, ks.ApplyResult(), "-", "+").Err())
	wantNoPerm(t, "forwarder HSET heartbeat", fwd.HSet(ctx, ks.Heartbeat(watch.JobTimer), "last_ok_at", "9").Err())
	wantNoPerm(t, "forwarder DEL alerts", fwd.Del(ctx, ks.Alerts()).Err())
}
