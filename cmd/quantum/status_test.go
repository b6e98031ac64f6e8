package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/status"
)

// healthyDeployment publishes a signed policy, runs an apply-layer consumer,
// records a fresh watch heartbeat and a passing proof run under a prefix of
// its own, and returns a harness pointed at it with the public key set.
func healthyDeployment(t *testing.T) (*harness, *redistest.Env, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rd := redistest.New(t)
	// A healthy verdict needs a Redis that keeps what it acknowledged: AOF
	// on in the package's test server (redistest starts it without).
	if err := rd.Client.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	key, err := policy.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, pubPath, err := policy.WriteKeyPair(t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	store, err := policystore.New(rd.Client, policystore.Options{Keys: rd.Keys, Keyring: policy.NewTrustedKeys(key.Public()), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	content := &policy.Content{
		UniverseSymbols: []string{"BTCUSDT"}, LeverageBySymbol: map[string]float64{"BTCUSDT": 10},
		HarvestParams: map[string]float64{}, KillParams: map[string]float64{},
		PolicyVersion: "status-test", TradingState: policy.StateActive,
	}
	if _, _, err := store.SignAndPublish(ctx, content, key, policystore.Release{Validity: 2 * time.Hour, Generator: "test", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	venue, err := paper.New(rd.Client, rd.Keys, map[string]string{"BTCUSDT": "65000"})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startDevApplyLayer(ctx, rd.Client, rd.Keys, policy.NewTrustedKeys(key.Public()), venue, map[string][]byte{"p": make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	// A plan from an unknown source: denied, so the consumer exists (Redis
	// creates it at its first delivery) and was just served.
	if err := rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: rd.Keys.ApplyPlan(), Values: []any{"plan_id", "warmup", "source", "nobody"}}).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the warm-up result", func() (bool, string) {
		n, err := rd.Client.XLen(ctx, rd.Keys.ApplyResult()).Result()
		return err == nil && n == 1, fmt.Sprint(n, err)
	})
	now := strconv.FormatInt(time.Now().Unix(), 10)
	if err := rd.Client.HSet(ctx, rd.Keys.Heartbeat("exit-owner-watch"), "last_run_at", now, "last_ok_at", now, "outcome", "clean", "interval_sec", "300").Err(); err != nil {
		t.Fatal(err)
	}
	proofRun(t, rd, "PASS")
	h := newHarness(t, map[string]string{
		"QUANTUM_REDIS_URL": rd.Server.URL(), "QUANTUM_PREFIX": rd.Keys.Prefix(), "QUANTUM_POLICY_PUBKEY": pubPath,
	})
	return h, rd, stop
}

func proofRun(t *testing.T, rd *redistest.Env, result string) {
	t.Helper()
	if err := rd.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: rd.Keys.ProofRuns(), Values: []any{
		"proof", "all", "result", result, "passed", "5", "failed", "0", "skipped", "1", "timestamp", strconv.FormatInt(time.Now().Unix(), 10), "host", "h1",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStatusHealthy(t *testing.T) {
	h, _, _ := healthyDeployment(t)
	r := h.run("status")
	r.want(t, 0, "version status-test  seq 1", "signature ok", "consumer dev: pending 0", "results (1h0m0s)  1: DENIED 1", "PLAN_INVALID 1",
		"exit-owner-watch: last ok", "last proof        all PASS passed=5 failed=0 skipped=1 at ", "redis             appendonly yes", "maxmemory-policy noeviction", "none: healthy")
	if strings.Contains(r.stdout, "tests=") || strings.Contains(r.stdout, "host=") {
		t.Errorf("the last proof line is not clipped to its verdict:\n%s", r.stdout)
	}
	r = h.run("status", "--json")
	r.want(t, 0)
	var rep status.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !rep.Policy.Valid || rep.Policy.Seq != 1 || len(rep.Group.Consumers) != 1 || len(rep.Attention) != 0 ||
		rep.LastProof == nil || rep.LastProof.Fields["result"] != "PASS" || rep.Watch.Stale {
		t.Fatalf("report %+v", rep)
	}
}

func TestStatusAttention(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		break_ func(h *harness, rd *redistest.Env, stop func())
		want   string
	}{
		{"no pubkey", func(h *harness, _ *redistest.Env, _ func()) { delete(h.env, "QUANTUM_POLICY_PUBKEY") }, "policy signature not checked"},
		{"tampered policy", func(_ *harness, rd *redistest.Env, _ func()) {
			rd.Client.HSet(ctx, rd.Keys.PolicyCurrent(), "trading_state", "HALTED")
		}, "POLICY_HASH_MISMATCH"},
		{"no policy", func(_ *harness, rd *redistest.Env, _ func()) { rd.Client.Del(ctx, rd.Keys.PolicyCurrent()) }, "no policy at"},
		{"expiring", func(h *harness, _ *redistest.Env, _ func()) {
			h.now = func() time.Time { return time.Now().Add(100 * time.Minute) }
		}, "under 30m0s"},
		{"firing alert", func(_ *harness, rd *redistest.Env, _ func()) {
			rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: rd.Keys.Alerts(), Values: []any{
				"alert_type", "EXIT_OWNER_VIOLATION", "status", "firing", "severity", "critical", "alert_id", "fp-1", "timestamp", strconv.FormatInt(time.Now().Unix(), 10)}})
		}, "alert EXIT_OWNER_VIOLATION fp-1"},
		{"stale watch", func(_ *harness, rd *redistest.Env, _ func()) {
			old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
			rd.Client.HSet(ctx, rd.Keys.Heartbeat("exit-owner-watch"), "last_ok_at", old)
		}, "exit-owner watch heartbeat"},
		{"failed proof", func(_ *harness, rd *redistest.Env, _ func()) { proofRun(t, rd, "FAIL") }, "last proof run"},
		{"no group", func(_ *harness, rd *redistest.Env, stop func()) {
			stop()
			rd.Client.XGroupDestroy(ctx, rd.Keys.ApplyPlan(), "apply_layer")
		}, "no consumer group apply_layer"},
		{"plans waiting without consumer", func(_ *harness, rd *redistest.Env, stop func()) {
			stop()
			// A group of its own name on a stream no consumer serves.
			rd.Client.XGroupDestroy(ctx, rd.Keys.ApplyPlan(), "apply_layer")
			rd.Client.XGroupCreate(ctx, rd.Keys.ApplyPlan(), "apply_layer", "0")
		}, "plan(s) waiting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, rd, stop := healthyDeployment(t)
			h.run("status").want(t, 0, "none: healthy")
			c.break_(h, rd, stop)
			h.run("status").want(t, 1, "ATTENTION", c.want)
		})
	}
}

// TestStatusAlertResolved: an alert whose latest status is resolved is not open.
func TestStatusAlertResolved(t *testing.T) {
	ctx := context.Background()
	h, rd, _ := healthyDeployment(t)
	for _, st := range []string{"firing", "resolved"} {
		rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: rd.Keys.Alerts(), Values: []any{"alert_type", "EXIT_OWNER_VIOLATION", "status", st, "alert_id", "fp-1"}})
	}
	if r := h.run("status"); r.code != 0 || strings.Contains(r.stdout, "EXIT_OWNER_VIOLATION") {
		t.Fatalf("a resolved alert reported open: exit %d\n%s", r.code, r.stdout)
	}
}

func TestStatusCannotCheck(t *testing.T) {
	h, rd, _ := healthyDeployment(t)
	h.run("status", "--redis", "redis://127.0.0.1:1/0").want(t, 2, "could not check", "connection refused")
	h.env["QUANTUM_POLICY_PUBKEY"] = "/nonexistent/policy.pub"
	h.run("status").want(t, 2, "could not check")
	delete(h.env, "QUANTUM_POLICY_PUBKEY")
	rd.Client.Del(context.Background(), rd.Keys.ApplyResult())
	rd.Client.Set(context.Background(), rd.Keys.ApplyResult(), "not a stream", 0)
	h.run("status").want(t, 2, "WRONGTYPE")
	h.run("status", "--bogus").want(t, 2)
}

// TestStatusLagComputed: the group's lag is counted from the stream after
// the group's last-delivered id, the same on a real Redis and on miniredis
// (quantum dev), whose XINFO GROUPS lag is not Redis's; an idle time is
// never negative.
func TestStatusLagComputed(t *testing.T) {
	ctx := context.Background()
	mini := miniredis.RunT(t)
	rd := redistest.New(t)
	for name, url := range map[string]string{"redis-server": rd.Server.URL(), "miniredis": "redis://" + mini.Addr() + "/0"} {
		t.Run(name, func(t *testing.T) {
			opt, err := redis.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			rdb := redis.NewClient(opt)
			defer rdb.Close()
			prefix := rd.Keys.Prefix() + "-" + name
			stream := prefix + ":stream:apply.plan"
			for i := range 7 {
				rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"plan_id", fmt.Sprint(i)}})
			}
			if err := rdb.XGroupCreate(ctx, stream, status.DefaultGroup, "0").Err(); err != nil {
				t.Fatal(err)
			}
			res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: status.DefaultGroup, Consumer: "c1", Streams: []string{stream, ">"}, Count: 3, Block: -1}).Result()
			if err != nil || len(res[0].Messages) != 3 {
				t.Fatal(res, err)
			}
			rdb.XAck(ctx, stream, status.DefaultGroup, res[0].Messages[0].ID)
			// miniredis has no CONFIG GET nor INFO memory: allowed, as quantum dev is.
			h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url, "QUANTUM_PREFIX": prefix, "QUANTUM_ALLOW_UNSAFE_REDIS": "1"})
			r := h.run("status")
			r.want(t, 1, "pending 2  lag 4  plans in stream 7", "consumer c1: pending 2  idle ")
			if strings.Contains(r.stdout, "idle -") {
				t.Errorf("negative idle:\n%s", r.stdout)
			}
			r = h.run("status", "--json")
			var rep status.Report
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Group.Lag != 4 || rep.Group.Pending != 2 {
				t.Fatalf("group %+v", rep.Group)
			}
		})
	}
}

// TestStatusRedisSettings: on a Redis without persistence status names the
// setting and needs attention; --allow-unsafe-redis (and its variable)
// reports it as allowed without counting it.
func TestStatusRedisSettings(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{}) // redistest's servers: appendonly no, save ""
	h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": srv.URL(), "QUANTUM_PREFIX": "st"})
	h.run("status").want(t, 1, `redis             appendonly no, save ""`, "UNSAFE: appendonly/save", "Redis appendonly/save appendonly no")
	redisAttention := func(r result) []string {
		t.Helper()
		var rep status.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		var out []string
		for _, a := range rep.Attention {
			if strings.HasPrefix(a, "Redis ") {
				out = append(out, a)
			}
		}
		return out
	}
	if got := redisAttention(h.run("status", "--json")); len(got) != 1 {
		t.Fatalf("Redis attention %q, want the persistence finding", got)
	}
	h.run("status", "--allow-unsafe-redis").want(t, 1, "UNSAFE (allowed): appendonly/save")
	if got := redisAttention(h.run("status", "--allow-unsafe-redis", "--json")); len(got) != 0 {
		t.Fatalf("allowed, yet Redis attention %q", got)
	}
	h.env["QUANTUM_ALLOW_UNSAFE_REDIS"] = "1"
	if got := redisAttention(h.run("status", "--json")); len(got) != 0 {
		t.Fatalf("QUANTUM_ALLOW_UNSAFE_REDIS=1, yet Redis attention %q", got)
	}
	h.run("status", "--min-replicas", "1", "--allow-unsafe-redis").want(t, 1, "connected replicas 0, --min-replicas 1", "under --min-replicas 1")
}
