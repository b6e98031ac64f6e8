package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestMigrateCheckNamesEveryHazard seeds a deployment with every hazard of
// issue 13 (a live intent_executor and an idle governor group; unsigned
// intent_bridge plans, a harvest_brain close, the old apply layer's
// side=CLOSE plan; a legacy HSET over the published policy; the Python
// services on the default user, users.acl not loaded; the test server's
// missing persistence and an evicting maxmemory-policy) and checks that
// migrate check names each one with its step of the guide (and the
// changed policy field), exits 1, and writes nothing; then a string-typed
// policy key (legacy SET), save()'s hash over the signed policy (naming
// the fields it changed) and an unsigned save().
func TestMigrateCheckNamesEveryHazard(t *testing.T) {
	ae := newApplyEnv(t)
	ctx := context.Background()
	rdb, k := ae.rd.Client, ae.rd.Keys
	startForeignExecutor(t, ae)
	if err := rdb.XGroupCreate(ctx, k.ApplyPlan(), "governor", "$").Err(); err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(time.Now().Unix())
	for _, p := range [][]string{
		{"plan_id", "ib-1", "decision", "EXECUTE", "symbol", "BTCUSDT", "side", "BUY", "type", "MARKET", "qty", "0.015384615384615385", "source", "intent_bridge", "signature", "intent_bridge", "timestamp", ts},
		{"plan_id", "hb-1", "decision", "EXECUTE", "symbol", "BTCUSDT", "side", "SELL", "type", "MARKET", "qty", "0.01", "reduceOnly", "True", "source", "harvest_brain", "timestamp", ts},
		{"plan_id", "al-1", "decision", "EXECUTE", "symbol", "BTCUSDT", "side", "CLOSE", "type", "MARKET", "qty", "0.01", "source", "apply_layer", "timestamp", ts},
	} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.ApplyPlan(), Values: p})
	}
	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "BTCUSDT", "--side", "BUY", "--qty", "0.01").want(t, 0)
	rdb.HSet(ctx, k.PolicyCurrent(), "valid_until_epoch", fmt.Sprint(time.Now().Add(3*time.Hour+7*time.Second).Unix())) // policy_refresh_direct.py
	// Eviction: Redis may delete the execution records (the server is
	// shared by this package's tests: restored at the end).
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.ConfigSet(context.Background(), "maxmemory-policy", "noeviction") })
	before, _ := rdb.DBSize(ctx).Result()

	aclFile := filepath.Join("..", "..", "deploy", "redis", "users.acl")
	r := ae.run("migrate", "check", "--pubkey", ae.pub, "--acl-file", aclFile)
	r.want(t, 1,
		"groups: consumer group intent_executor", "executor-1", "#7-cut-over",
		"groups: consumer group governor", "no live consumer",
		"intent_bridge: 2 plans, 1 signed, 1 unsigned",
		"source intent_bridge sent 1 unsigned plan(s)", "AUTH_MISSING", "#5-sign-producers",
		"source apply_layer sent 1 plan(s) with a side other than BUY/SELL", "PLAN_INVALID",
		"source harvest_brain sent 1 close(s)", "DENY_NOT_EXIT_OWNER", "#6-the-exit-path",
		"no close from the exit owner exitbrain_v3_5",
		"POLICY_HASH_MISMATCH", "signed fields changed: valid_until_epoch", "#3-policy-takeover",
		"connection(s) use the default user", "#2-redis-users",
		"users of "+aclFile+" not loaded in Redis: quantum-producer",
		"redis-config: appendonly/save", "no persistence", "maxmemory-policy allkeys-lru", "fix: redis.conf: maxmemory-policy noeviction",
		"docs/deploy.md (Redis configuration)",
		"NOT READY")
	if after, _ := rdb.DBSize(ctx).Result(); after != before {
		t.Errorf("migrate check wrote: %d keys before, %d after", before, after)
	}
	j := ae.run("migrate", "check", "--json")
	var rep struct {
		Ready    bool `json:"ready"`
		Findings []struct{ Check, Severity, Step, Message string }
	}
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || rep.Ready || j.code != 1 {
		t.Fatalf("--json: %v ready=%v code=%d\n%s", err, rep.Ready, j.code, j.stdout)
	}
	// Each hazard with the step of the guide that fixes it.
	steps := map[string]string{}
	for _, f := range rep.Findings {
		if steps[f.Check+" "+f.Step] != "blocker" {
			steps[f.Check+" "+f.Step] = f.Severity
		}
		if f.Step == "" {
			t.Errorf("finding without a step: %+v", f)
		}
	}
	for _, c := range []string{
		"groups docs/migration.md#7-cut-over", "producers docs/migration.md#5-sign-producers", "producers docs/migration.md#6-the-exit-path",
		"exits docs/migration.md#6-the-exit-path", "policy docs/migration.md#3-policy-takeover", "redis-users docs/migration.md#2-redis-users",
		"redis-config docs/deploy.md (Redis configuration)",
	} {
		if steps[c] != "blocker" {
			t.Errorf("no blocker %q in %+v", c, rep.Findings)
		}
	}
	// Every step a finding names is a heading of the guide (GitHub's anchors).
	doc, _ := os.ReadFile("../../docs/migration.md")
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			a := strings.Map(func(r rune) rune {
				switch {
				case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
					return r
				case r == ' ':
					return '-'
				}
				return -1
			}, strings.ToLower(h))
			anchors["docs/migration.md#"+a] = true
		}
	}
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.Step, "docs/migration.md") && !anchors[f.Step] {
			t.Errorf("finding %s names %s, not a heading of docs/migration.md (%v)", f.Check, f.Step, anchors)
		}
	}
	// backend/core/policy_store.py: a JSON string at the policy key.
	rdb.Del(ctx, k.PolicyCurrent())
	rdb.Set(ctx, k.PolicyCurrent(), `{"universe_symbols":["BTCUSDT"]}`, 0)
	ae.run("migrate", "check").want(t, 1, "is a string, not a hash", "--replace-legacy")
	// A manual DEL (the recovery that restarted the old refresh at seq 1).
	rdb.Del(ctx, k.PolicyCurrent())
	ae.run("migrate", "check").want(t, 1, "no policy at "+k.PolicyCurrent(), "POLICY_MISSING", "#3-policy-takeover")
	// lib/policy_store.py save() over the signed policy: its six fields
	// (three of them changed) and its own policy_hash.
	ae.run("policy", "publish", ae.policyFile, "--key", ae.key).want(t, 0, "published")
	live := ae.currentFields()
	rdb.HSet(ctx, k.PolicyCurrent(), "universe_symbols", `["BTCUSDT", "SOLUSDT"]`, "leverage_by_symbol", live["leverage_by_symbol"], "harvest_params", live["harvest_params"],
		"kill_params", live["kill_params"], "valid_until_epoch", ts+".25", "policy_version", "1.0")
	rdb.HSet(ctx, k.PolicyCurrent(), "policy_hash", "deadbeef")
	ae.run("migrate", "check", "--pubkey", ae.pub).want(t, 1, "POLICY_HASH_MISMATCH",
		"signed fields changed: policy_version, universe_symbols, valid_until_epoch; signature fields rewritten: policy_hash", "#3-policy-takeover")
	// lib/policy_store.py save(): two HSETs and its own unverified hash.
	rdb.Del(ctx, k.PolicyCurrent())
	rdb.HSet(ctx, k.PolicyCurrent(), "universe_symbols", `["BTCUSDT"]`, "leverage_by_symbol", `{"BTCUSDT": 10}`)
	rdb.HSet(ctx, k.PolicyCurrent(), "policy_hash", "deadbeef", "valid_until_epoch", ts)
	ae.run("migrate", "check").want(t, 1, "is unsigned", "POLICY_UNSIGNED", "not in "+k.PolicyAudit(), "written outside the audited publish")
	ae.run("migrate", "check", "--redis", "redis://127.0.0.1:1/0").want(t, 2, "could not check")
}

// TestMigrateReportSummarizesShadow: a shadow period beside the old
// executor summarized: decisions, would-be denials by reason and source,
// unsigned producers, ownership violations.
func TestMigrateReportSummarizesShadow(t *testing.T) {
	ae := newApplyEnv(t)
	ctx := context.Background()
	ae.run("migrate", "report").want(t, 2, "no shadow result")
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--mode", "shadow")...)
	waitFor(t, logs, "apply layer consuming")
	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "1").want(t, 0)
	ae.run("plan", "send", "--key-file", ae.keyFiles["rogue"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "1", "--reduce-only").want(t, 0)
	ae.rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: ae.rd.Keys.ApplyPlan(), Values: []string{
		"plan_id", "u-1", "decision", "EXECUTE", "symbol", "SOLUSDT", "side", "BUY", "type", "MARKET", "qty", "1", "source", "harvest_brain", "timestamp", fmt.Sprint(time.Now().Unix())}})
	eventually(t, 15*time.Second, "three shadow results", func() (bool, string) {
		n := ae.rd.Client.XLen(ctx, ae.rd.Keys.ApplyShadow()).Val()
		return n == 3, fmt.Sprint(n)
	})
	r := ae.run("migrate", "report")
	r.want(t, 1, "3 (entries", "DENIED 2, EXECUTED 1", "AUTH_MISSING: harvest_brain 1",
		"DENY_NOT_EXIT_OWNER: rogue 1", "unsigned producers", "ownership violations", "rogue: SOLUSDT 1")
	ae.run("migrate", "report", "--json").want(t, 1, `"ownership_violations_by_source_and_symbol"`)
}
