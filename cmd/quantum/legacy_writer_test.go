package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestVerifyAndStatusNameLegacyWriterFields: the old generator's save()
// (lib/policy_store.py: HSET of the six fields as it formats them, then
// HSET of its own policy_hash) over a published policy, plus two fields
// no policy has, one holding a secret-looking value: policy verify and
// status say POLICY_HASH_MISMATCH and name exactly the fields outside the
// signed set, the signed fields whose value changed and the rewritten
// policy_hash, and echo no value; migrate check names them too.
func TestVerifyAndStatusNameLegacyWriterFields(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0, "policy_seq=1")
	ctx := context.Background()
	live := pe.currentFields()
	const secret = "sk-live-legacy-0123456789"
	key := pe.rd.Keys.PolicyCurrent()
	// save(): leverage, harvest and kill as they were; universe, validity
	// and version rewritten; then its own hash.
	if err := pe.rd.Client.HSet(ctx, key, "universe_symbols", `["BTCUSDT", "ETHUSDT", "XRPUSDT"]`, "leverage_by_symbol", live["leverage_by_symbol"],
		"harvest_params", live["harvest_params"], "kill_params", live["kill_params"], "valid_until_epoch", "1999999999.654321",
		"policy_version", "1.0", "source_script", "generate_sample_policy", "redis_password", secret).Err(); err != nil {
		t.Fatal(err)
	}
	if err := pe.rd.Client.HSet(ctx, key, "policy_hash", strings.Repeat("5a", 32)).Err(); err != nil {
		t.Fatal(err)
	}
	names := []string{"fields outside the signed set: redis_password, source_script",
		"signed fields changed: policy_version, universe_symbols, valid_until_epoch", "signature fields rewritten: policy_hash"}
	noValue := func(out string) {
		t.Helper()
		for _, v := range []string{secret, "generate_sample_policy", "XRPUSDT", "1999999999"} {
			if strings.Contains(out, v) {
				t.Errorf("output echoes the value %q:\n%s", v, out)
			}
		}
		for _, n := range []string{"leverage_by_symbol", "harvest_params", "kill_params"} {
			if strings.Contains(out, n) {
				t.Errorf("output names %s, which save() wrote unchanged:\n%s", n, out)
			}
		}
	}
	r := pe.run("policy", "verify", "--pubkey", pe.pub)
	r.want(t, 1, append([]string{"POLICY_HASH_MISMATCH "}, names...)...)
	noValue(r.stdout + r.stderr)
	t.Logf("policy verify: %s", r.stdout)
	r = pe.run("status", "--pubkey", pe.pub)
	r.want(t, 1, append([]string{"POLICY_HASH_MISMATCH"}, names...)...)
	noValue(r.stdout + r.stderr)
	r = pe.run("status", "--pubkey", pe.pub, "--json")
	noValue(r.stdout)
	var rep struct {
		Policy struct {
			Signature    string `json:"signature"`
			LegacyWriter *struct {
				Known                       bool
				Outside                     []string `json:"outside_signed_set"`
				Changed, Missing, Rewritten []string
			} `json:"legacy_writer"`
		} `json:"policy"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Policy.LegacyWriter == nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	lw := rep.Policy.LegacyWriter
	if rep.Policy.Signature != "POLICY_HASH_MISMATCH" || !lw.Known || !reflect.DeepEqual(lw.Outside, []string{"redis_password", "source_script"}) ||
		!reflect.DeepEqual(lw.Changed, []string{"policy_version", "universe_symbols", "valid_until_epoch"}) || len(lw.Missing) != 0 ||
		!reflect.DeepEqual(lw.Rewritten, []string{"policy_hash"}) {
		t.Errorf("status --json legacy_writer: %+v (%s)", lw, rep.Policy.Signature)
	}
	r = pe.run("migrate", "check", "--pubkey", pe.pub)
	r.want(t, 1, append([]string{"POLICY_HASH_MISMATCH"}, names...)...)
	noValue(r.stdout + r.stderr)

	// A copy that cannot be read (a string at its key) leaves the finding
	// and the refusal without names, never a failed check.
	if err := pe.rd.Client.Set(ctx, pe.rd.Keys.PolicyPublished(), "junk", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pe.run("migrate", "check", "--pubkey", pe.pub).want(t, 1, "POLICY_HASH_MISMATCH", "the fields changed cannot be named", "NOT READY")
	r = pe.run("policy", "verify", "--pubkey", pe.pub)
	r.want(t, 1, "POLICY_HASH_MISMATCH ")
	if strings.Contains(r.stdout, "outside the signed set") {
		t.Errorf("names from an unreadable copy: %s", r.stdout)
	}

	// A publish over it (with --replace-legacy: the live key no longer
	// verifies) leaves nothing to name.
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--replace-legacy").want(t, 0, "published")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")
}
