package main

import (
	"context"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policystore"
)

// TestReplaceLegacyPolicyKey: a running apply layer trusts a published
// policy at seq 2; a legacy save() overwrites it (two HSETs, its own hash:
// every plan denied, POLICY_MISSING_FIELD); publish --replace-legacy moves it
// aside, audits it and publishes seq 3, so the running apply layer executes
// again with no POLICY_ROLLBACK; a second --replace-legacy is refused (it
// acts once); a legacy JSON string SET at the key (WRONGTYPE for every
// reader) is replaced the same way, seq 4.
func TestReplaceLegacyPolicyKey(t *testing.T) {
	ae := newApplyEnv(t) // published seq 1 (sol.json)
	ctx := context.Background()
	rdb, k := ae.rd.Client, ae.rd.Keys
	policy := readFile(t, ae.dir+"/sol.json")
	file := writeFile(t, ae.dir, "p.json", policy)
	ae.run("policy", "publish", file, "--key", ae.key).want(t, 0, "policy_seq=2")
	ae.run("policy", "publish", file, "--key", ae.key, "--replace-legacy").want(t, 1, "nothing legacy to replace")

	logs := runDaemon(t, ae.harness, ae.daemonArgs()...)
	waitFor(t, logs, "apply layer consuming")
	buy := func(code int, fragments ...string) {
		t.Helper()
		ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "1", "--wait", "10s").want(t, code, fragments...)
	}
	buy(0, "EXECUTED")

	// lib/policy_store.py save(): replaces fields one HSET at a time with its own hash.
	rdb.Del(ctx, k.PolicyCurrent())
	rdb.HSet(ctx, k.PolicyCurrent(), "universe_symbols", `["SOLUSDT"]`, "leverage_by_symbol", `{"SOLUSDT": 5}`, "policy_version", "legacy-1")
	rdb.HSet(ctx, k.PolicyCurrent(), "policy_hash", "abc123", "valid_until_epoch", "9999999999")
	buy(1, "DENIED", "POLICY_")
	r := ae.run("policy", "publish", file, "--key", ae.key, "--replace-legacy")
	r.want(t, 0, "policy_seq=3", "legacy hash moved to "+k.Key("policy:legacy:"), "POLICY_MISSING_FIELD", "universe_symbols")
	buy(0, "EXECUTED")
	if strings.Contains(logs.String(), "POLICY_ROLLBACK") {
		t.Fatalf("the running apply layer saw a rollback:\n%s", logs)
	}
	ae.run("policy", "publish", file, "--key", ae.key, "--replace-legacy").want(t, 1, "nothing legacy to replace")

	// backend/core/policy_store.py: SET of a JSON string.
	rdb.Del(ctx, k.PolicyCurrent())
	rdb.Set(ctx, k.PolicyCurrent(), `{"universe_symbols": ["SOLUSDT"]}`, 0)
	ae.run("policy", "publish", file, "--key", ae.key, "--replace-legacy").want(t, 0, "policy_seq=4", "legacy string")
	ae.run("policy", "verify", "--pubkey", ae.pub).want(t, 0, "policy_seq=4")
	buy(0, "EXECUTED")

	var replaced []map[string]string
	for _, e := range redistest.StreamEntries(t, rdb, k.PolicyAudit()) {
		if e["result"] == policystore.ResultLegacyReplaced {
			replaced = append(replaced, e)
		}
	}
	if len(replaced) != 2 || replaced[0]["reason"] != "POLICY_MISSING_FIELD" || replaced[1]["reason"] != "POLICY_PARSE_ERROR" || replaced[0]["actor"] == "" {
		t.Fatalf("audit of the replacements: %v", replaced)
	}
	if aside := rdb.Keys(ctx, k.Key("policy:legacy:*")).Val(); len(aside) != 2 {
		t.Fatalf("legacy keys kept aside: %v", aside)
	}
}
