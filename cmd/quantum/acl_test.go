package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

// aclServer starts a redis-server loaded with deploy/redis/users.acl, each
// CHANGE-ME-x password set to pw-x, plus an admin user for the test's own
// setup. url returns the unix-socket URL of a user.
func aclServer(t *testing.T) (url func(user string) string) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/redis/users.acl")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), ">CHANGE-ME-"); n < 6 {
		t.Fatalf("users.acl holds %d placeholder passwords, want one per user", n)
	}
	acl := regexp.MustCompile(`>CHANGE-ME-`).ReplaceAllString(string(b), ">pw-") + "user admin on >pw-admin ~* &* +@all\n"
	path := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(path, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, redistest.Options{Args: []string{"--aclfile", path}})
	pw := map[string]string{
		"quantum-producer": "pw-producer", "quantum-apply-layer": "pw-apply-layer", "quantum-refresh": "pw-refresh",
		"quantum-watch": "pw-watch", "quantum-proof": "pw-proof", "quantum-operator": "pw-operator", "admin": "pw-admin",
		"quantum-alerts-forward": "pw-alerts-forward", "quantum-intent-bridge": "pw-intent-bridge",
	}
	return func(user string) string {
		if pw[user] == "" {
			t.Fatalf("no user %s", user)
		}
		return "unix://" + user + ":" + pw[user] + "@" + srv.Socket()
	}
}

func aclClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// wantNoPerm fails the test unless err is a NOPERM refusal.
func wantNoPerm(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("%s: %v, want NOPERM", what, err)
	}
}

// TestACLUsers loads deploy/redis/users.acl into a real redis-server and
// runs each role's real work as its user: what a role needs succeeds, and
// what it must not do answers NOPERM.
func TestACLUsers(t *testing.T) {
	ctx := context.Background()
	url := aclServer(t)
	ks := keys.MustNew(keys.DefaultPrefix)

	// Nobody gets in without a user.
	if err := aclClient(t, strings.Replace(url("admin"), "admin:pw-admin@", "", 1)).Ping(ctx).Err(); err == nil {
		t.Fatal("the default user may connect")
	}

	// The refresh publishes the policy, as its user, with its real command.
	dir := t.TempDir()
	key, err := policy.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath, err := policy.WriteKeyPair(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	refreshArgs := []string{"policy", "refresh", "--template", "../../deploy/policy.example.json", "--key", keyPath, "--pubkey", pubPath}
	h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-producer")})
	h.run(refreshArgs...).want(t, 2) // a producer cannot publish
	h = newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-apply-layer")})
	h.run(refreshArgs...).want(t, 2) // nor can the apply layer
	h = newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-refresh")})
	h.run(refreshArgs...).want(t, 0)
	h.run(refreshArgs...).want(t, 0)

	// The producer: plans in, results out, nothing else.
	prod := aclClient(t, url("quantum-producer"))
	wantNoPerm(t, "producer HSET policy", prod.HSet(ctx, ks.PolicyCurrent(), "trading_state", "HALTED").Err())
	wantNoPerm(t, "producer DEL policy", prod.Del(ctx, ks.PolicyCurrent()).Err())
	wantNoPerm(t, "producer XADD result", prod.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyResult(), Values: []any{"decision", "EXECUTED"}}).Err())
	wantNoPerm(t, "producer XADD alert", prod.XAdd(ctx, &redis.XAddArgs{Stream: ks.Alerts(), Values: []any{"status", "resolved"}}).Err())
	wantNoPerm(t, "producer XRANGE plans", prod.XRange(ctx, ks.ApplyPlan(), "-", "+").Err())
	wantNoPerm(t, "producer DEL plans", prod.Del(ctx, ks.ApplyPlan()).Err())

	// The apply layer: as its user, consumes, executes on the paper venue,
	// writes results; may read the policy but not write it.
	apply := aclClient(t, url("quantum-apply-layer"))
	wantNoPerm(t, "apply layer HSET policy", apply.HSet(ctx, ks.PolicyCurrent(), "trading_state", "HALTED").Err())
	wantNoPerm(t, "apply layer XADD policy.update", apply.XAdd(ctx, &redis.XAddArgs{Stream: ks.PolicyUpdate(), Values: []any{"a", "b"}}).Err())
	// It raises PLAN_STREAM_TAMPERED itself (within a second of the event).
	if err := apply.XAdd(ctx, &redis.XAddArgs{Stream: ks.Alerts(), Values: []any{"alert_type", "PLAN_STREAM_TAMPERED"}}).Err(); err != nil {
		t.Errorf("the apply layer cannot raise PLAN_STREAM_TAMPERED: %v", err)
	}
	if err := apply.XInfoStream(ctx, ks.ApplyPlan()).Err(); err != nil && !strings.Contains(err.Error(), "no such key") {
		t.Errorf("the apply layer cannot inspect the plan stream for tampering: %v", err)
	}
	// It raises DAILY_LOSS_LIMIT itself too (issue 15): the alert stream and
	// the alerts' dedupe state, nothing else of the watch's.
	wantNoPerm(t, "apply layer HSET watch heartbeat", apply.HSet(ctx, ks.Heartbeat(keys.JobWatchTimer), "outcome", "clean").Err())
	store, err := policystore.New(apply, policystore.Options{Keys: ks, Keyring: policy.NewTrustedKeys(key.Public()), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx); err != nil {
		t.Fatalf("the apply layer cannot read the policy: %v", err)
	}
	venue, err := paper.New(apply, ks, app.DevPrices)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{}
	for _, src := range []string{"intent_bridge", "exitbrain_v3_5", "rogue"} {
		line, err := plan.KeygenLine(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, src+".key", line+"\n")
		os.Chmod(filepath.Join(dir, src+".key"), 0o600)
		secrets[src], _ = hex.DecodeString(strings.Fields(line)[1])
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := startDevApplyLayer(actx, apply, ks, policy.NewTrustedKeys(key.Public()), venue, secrets)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	// Producers send with the real command, as the producer user, and read
	// their results.
	h = newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-producer")})
	send := func(src string, args ...string) result {
		return h.run(append([]string{"plan", "send", "--key-file", filepath.Join(dir, src+".key"), "--symbol", "BTCUSDT", "--qty", "0.01", "--wait", "10s"}, args...)...)
	}
	send("intent_bridge", "--side", "BUY").want(t, 0, "EXECUTED")
	send("rogue", "--side", "SELL", "--reduce-only").want(t, 1, "DENY_NOT_EXIT_OWNER")
	send("exitbrain_v3_5", "--side", "SELL", "--reduce-only").want(t, 0, "EXECUTED")
	// Every plan acknowledged: a script that failed halfway (a command or
	// key missing from the user) would leave its plan pending.
	admin := aclClient(t, url("admin"))
	eventually(t, 10*time.Second, "no plan pending", func() (bool, string) {
		p, err := admin.XPending(ctx, ks.ApplyPlan(), "apply_layer").Result()
		return err == nil && p.Count == 0, fmt.Sprint(p, err)
	})
	if n, err := admin.XLen(ctx, ks.ApplyResult()).Result(); err != nil || n != 3 {
		t.Fatalf("results %d %v, want 3", n, err)
	}
	// The paper venue's script ran to its end as this user: a command the
	// user lacks fails the script after its first writes, which a look-up
	// then reads as placed, so only the order's TTL and index show it.
	orders, err := venue.Orders(ctx)
	if err != nil || len(orders) != 2 {
		t.Fatalf("paper orders %+v %v, want the two executed", orders, err)
	}
	for _, o := range orders {
		if ttl, err := admin.PTTL(ctx, ks.Key("paper:order:"+o.ClientOrderID)).Result(); err != nil || ttl <= 0 {
			t.Errorf("paper order %s has no TTL (%s, %v): the script stopped before its expiry", o.ClientOrderID, ttl, err)
		}
	}
	if _, err := venue.RecentOrders(ctx, "BTCUSDT", market.ClientOrderIDPrefix, time.Now().Add(-time.Hour)); err != nil {
		t.Errorf("the apply layer's reconciliation cannot list the paper venue's orders: %v", err)
	}

	// The watch, as its user, finds the denial and raises the alert.
	h = newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-watch")})
	h.run("exit-owner", "watch").want(t, 1, "published")
	watchC := aclClient(t, url("quantum-watch"))
	wantNoPerm(t, "watch HSET policy", watchC.HSet(ctx, ks.PolicyCurrent(), "a", "b").Err())
	wantNoPerm(t, "watch XADD result", watchC.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyResult(), Values: []any{"a", "b"}}).Err())

	// The operator reads everything (status checks all of it, exit 1: the
	// alert fires) and writes nothing.
	h = newHarness(t, map[string]string{"QUANTUM_REDIS_URL": url("quantum-operator"), "QUANTUM_POLICY_PUBKEY": pubPath})
	r := h.run("status")
	r.want(t, 1, "signature ok", "EXIT_OWNER_VIOLATION", "consumer dev")
	op := aclClient(t, url("quantum-operator"))
	wantNoPerm(t, "operator HSET policy", op.HSet(ctx, ks.PolicyCurrent(), "a", "b").Err())
	wantNoPerm(t, "operator XADD plan", op.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyPlan(), Values: []any{"a", "b"}}).Err())

	// Proofs: read the live keys, write the ledger, canary plans and their
	// scratch namespaces; never the live policy or results.
	pr := aclClient(t, url("quantum-proof"))
	if err := pr.HGetAll(ctx, ks.PolicyCurrent()).Err(); err != nil {
		t.Fatalf("proof read policy: %v", err)
	}
	if err := pr.XAdd(ctx, &redis.XAddArgs{Stream: ks.ProofRuns(), Values: []any{"proof", "acl", "result", "PASS"}}).Err(); err != nil {
		t.Fatalf("proof ledger: %v", err)
	}
	if err := pr.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyPlan(), Values: []any{"plan_id", "canary-1", "canary", "true"}}).Err(); err != nil {
		t.Fatalf("proof canary plan: %v", err)
	}
	if err := pr.HSet(ctx, "proof-scratch-x-0:policy:current", "a", "b").Err(); err != nil {
		t.Fatalf("proof scratch write: %v", err)
	}
	wantNoPerm(t, "proof HSET policy", pr.HSet(ctx, ks.PolicyCurrent(), "a", "b").Err())
	wantNoPerm(t, "proof XADD result", pr.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyResult(), Values: []any{"a", "b"}}).Err())
	// No role but the apply layer may delete, trim, acknowledge, claim or
	// hold live plans: the proof role only adds canaries.
	plans := ks.ApplyPlan()
	wantNoPerm(t, "proof XDEL plan", pr.XDel(ctx, plans, "1-1").Err())
	wantNoPerm(t, "proof XTRIM plans", pr.XTrimMaxLen(ctx, plans, 0).Err())
	wantNoPerm(t, "proof XACK plan", pr.XAck(ctx, plans, "apply_layer", "1-1").Err())
	wantNoPerm(t, "proof XAUTOCLAIM plans", pr.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: plans, Group: "apply_layer", Consumer: "p", MinIdle: 0, Start: "0-0", Count: 1}).Err())
	wantNoPerm(t, "proof XREADGROUP plans", pr.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "apply_layer", Consumer: "p", Streams: []string{plans, ">"}, Count: 1, Block: -1}).Err())
	wantNoPerm(t, "proof XGROUP DESTROY", pr.XGroupDestroy(ctx, plans, "apply_layer").Err())
	wantNoPerm(t, "proof DEL plans", pr.Del(ctx, plans).Err())
	for _, role := range []string{"quantum-producer", "quantum-watch", "quantum-operator", "quantum-refresh", "quantum-intent-bridge"} {
		c := aclClient(t, url(role))
		wantNoPerm(t, role+" XDEL plan", c.XDel(ctx, plans, "1-1").Err())
		wantNoPerm(t, role+" XACK plan", c.XAck(ctx, plans, "apply_layer", "1-1").Err())
		wantNoPerm(t, role+" XTRIM plans", c.XTrimMaxLen(ctx, plans, 0).Err())
	}
}
