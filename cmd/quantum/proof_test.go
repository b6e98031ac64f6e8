package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/proof"
	"github.com/quantumtrader/quantum/watch"
)

// proofDeployment is the whole system in a test prefix: a policy, an apply
// layer subprocess whose keyring lists quantum_proof, one refresh and one
// watch run, and the proofs' environment.
type proofDeployment struct {
	*applyEnv
	daemon *daemonProc
}

type daemonProc struct {
	t    *testing.T
	stop func()
	logs *syncBuffer
}

func startApplyLayer(t *testing.T, ae *applyEnv, extra ...string) *daemonProc {
	t.Helper()
	logs := &syncBuffer{}
	cmd := quantumCommand(ae.daemonArgs(extra...)...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{t: t, logs: logs}
	stopped := false
	d.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	t.Cleanup(d.stop)
	waitLog(t, logs, `"msg":"apply layer consuming"`)
	return d
}

func waitLog(t *testing.T, out *syncBuffer, fragment string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), fragment); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output within 15s:\n%s", fragment, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newProofDeployment(t *testing.T) *proofDeployment {
	ae := newApplyEnv(t)
	r := ae.run("plan", "keygen", "--source", "quantum_proof")
	r.want(t, 0, "quantum_proof ")
	proofKey := filepath.Join(ae.dir, "proof.key")
	if err := os.WriteFile(proofKey, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	ring := readFile(t, ae.keyring) + r.stdout
	if err := os.WriteFile(ae.keyring, []byte(ring), 0o600); err != nil {
		t.Fatal(err)
	}
	pd := &proofDeployment{applyEnv: ae}
	pd.daemon = startApplyLayer(t, ae)
	// An open paper position, so that an opposite-side canary is an exit.
	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "BTCUSDT", "--side", "BUY", "--qty", "0.01", "--wait", "10s").
		want(t, 0, "EXECUTED")
	ae.run("policy", "refresh", "--template", ae.policyFile, "--key", ae.key, "--pubkey", ae.pub).want(t, 0, "published")
	ae.run("exit-owner", "watch").want(t, 0, "clean")
	ae.env["QUANTUM_POLICY_PUBKEY"] = ae.pub
	ae.env["QUANTUM_PROOF_KEY_FILE"] = proofKey
	return pd
}

var proofVerdictLine = regexp.MustCompile(`(?m)^(PASS|FAIL|SKIP) (\S+): (.*)$`)

// verdicts maps each test of a text report to its verdict.
func proofVerdicts(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, g := range proofVerdictLine.FindAllStringSubmatch(out, -1) {
		m[g[2]] = g[1]
	}
	if len(m) == 0 {
		t.Fatalf("no verdict lines in:\n%s", out)
	}
	return m
}

// liveSnapshot is what production relies on, byte for byte: the policy
// hash, the heartbeat, and the length of every stream but proof.runs and
// the canaries' own plan and result entries.
func liveSnapshot(t *testing.T, pd *proofDeployment) map[string]string {
	t.Helper()
	ctx := context.Background()
	c, k := pd.rd.Client, pd.rd.Keys
	snap := map[string]string{}
	for _, key := range []string{k.PolicyCurrent(), k.Heartbeat(watch.JobTimer)} {
		d, err := c.Dump(ctx, key).Result()
		if err != nil {
			t.Fatalf("DUMP %s: %v", key, err)
		}
		snap["dump "+key] = d
	}
	for _, s := range []string{k.PolicyUpdate(), k.PolicyAudit(), k.Alerts()} {
		snap["xlen "+s] = strconv.FormatInt(c.XLen(ctx, s).Val(), 10)
	}
	// Every key of the live prefix but the apply layer's records of plans
	// (canaries add theirs) and the two streams canaries write to.
	var all []string
	iter := c.Scan(ctx, 0, k.Prefix()+":*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		if strings.HasPrefix(key, k.Key("apply:")) || key == k.ApplyPlan() || key == k.ApplyResult() || key == k.ProofRuns() {
			continue
		}
		all = append(all, key)
	}
	sort.Strings(all)
	snap["keys"] = strings.Join(all, " ")
	return snap
}

func nonCanaryCount(t *testing.T, pd *proofDeployment, stream string) int {
	n := 0
	for _, e := range redistest.StreamEntries(t, pd.rd.Client, stream) {
		if e["canary"] != "true" {
			n++
		}
	}
	return n
}

func scratchLeft(t *testing.T, pd *proofDeployment) []string {
	keys, err := pd.rd.Client.Keys(context.Background(), proof.ScratchPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestProofsOnLiveDeployment deploys the whole system, runs every proof
// (all PASS, timer tests SKIP without systemd), checks that production keys
// are untouched and that a rerun agrees, then breaks one thing per proof and
// shows that proof FAIL with a line saying what is wrong, again on rerun.
func TestProofsOnLiveDeployment(t *testing.T) {
	pd := newProofDeployment(t)
	before := liveSnapshot(t, pd)
	plansBefore, resultsBefore := nonCanaryCount(t, pd, pd.rd.Keys.ApplyPlan()), nonCanaryCount(t, pd, pd.rd.Keys.ApplyResult())

	r := pd.run("proof", "all")
	r.want(t, 0, " 0 failed, ")
	t.Logf("quantum proof all:\n%s", r.stdout)
	for _, tag := range []string{"[POLICY-REFRESH]", "[EXIT-OWNER-WATCH]"} {
		if strings.Contains(r.stderr, tag) {
			t.Errorf("the proofs' scratch runs logged %s lines that read as production's:\n%s", tag, r.stderr)
		}
	}
	first := proofVerdicts(t, r.stdout)
	for test, v := range first {
		if v == "SKIP" && !strings.HasSuffix(test, "-timer-active") {
			t.Errorf("%s skipped:\n%s", test, r.stdout)
		}
	}
	if n := len(first); n < 10+6+10+10 {
		t.Fatalf("%d tests ran, the ledger names 36", n)
	}
	after := liveSnapshot(t, pd)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("production changed by the proofs: %s", k)
		}
	}
	if p, res := nonCanaryCount(t, pd, pd.rd.Keys.ApplyPlan()), nonCanaryCount(t, pd, pd.rd.Keys.ApplyResult()); p != plansBefore || res != resultsBefore {
		t.Errorf("non-canary plans %d->%d, results %d->%d: proofs may only add canaries", plansBefore, p, resultsBefore, res)
	}
	if left := scratchLeft(t, pd); len(left) > 0 {
		t.Errorf("scratch keys left behind: %v", left)
	}

	// At once again: the same verdicts.
	r = pd.run("proof", "all", "--format", "text")
	r.want(t, 0, " 0 failed, ")
	sameVerdicts(t, first, proofVerdicts(t, r.stdout))

	// The ledger: one entry per proof per run.
	r = pd.run("proof", "ledger", "--count", "8", "--json")
	r.want(t, 0, `"proof": "exit-owner-watch"`, `"result": "PASS"`, `"duration_ms"`, `"failed_tests": []`)
	if n := strings.Count(r.stdout, `"proof": `); n != 8 {
		t.Fatalf("%d ledger entries for two runs of four proofs:\n%s", n, r.stdout)
	}
	pd.run("proof", "ledger").want(t, 0, "## exit-owner-gate", "`scripts/proof_exit_owner_gate.sh`", "**Status:** PASS (9/9 PASS)")

	// The ledger's script paths: thin wrappers reading quantum.env.
	envFile := writeFile(t, t.TempDir(), "quantum.env", fmt.Sprintf("QUANTUM_REDIS_URL=%s\nQUANTUM_PREFIX=%s\nQUANTUM_POLICY_PUBKEY=%s\nQUANTUM_PROOF_KEY_FILE=%s\n",
		pd.rd.Server.URL(), pd.rd.Keys.Prefix(), pd.env["QUANTUM_POLICY_PUBKEY"], pd.env["QUANTUM_PROOF_KEY_FILE"]))
	for _, p := range proof.All() {
		cmd := exec.Command("../../"+p.Script, "--format", "tap")
		cmd.Env = append(os.Environ(), "QUANTUM_TEST_RUN_MAIN=1", "QUANTUM_BIN="+quantumCommand().Path, "QUANTUM_ENV_FILE="+envFile)
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "ok 1 - "+p.Name+"/") || strings.Contains(string(out), "not ok") {
			t.Fatalf("%s: %v\n%s", p.Script, err, out)
		}
	}

	type breakCase struct {
		name, proof, test, evidence string
		do                          func()
	}
	cases := []breakCase{
		{"apply layer with --auth off", "exit-owner-gate", "auth-required", "does not authenticate sources (--auth off?)", func() {
			pd.daemon.stop()
			pd.daemon = startApplyLayer(t, pd.applyEnv, "--auth", "off")
		}},
		{"watch heartbeat stale", "exit-owner-watch", "live-heartbeat-fresh", "the watch is not running", func() {
			pd.rd.Client.HSet(context.Background(), pd.rd.Keys.Heartbeat(watch.JobTimer), "last_run_at", time.Now().Add(-time.Hour).Unix())
		}},
		{"refresh key not trusted", "policy-refresh", "live-signer-trusted", "the refresh key is not trusted", func() {
			pd.run("policy", "publish", pd.policyFile, "--key", pd.otherKey, "--pubkey", pd.otherPub).want(t, 0, "published")
		}},
		{"policy expired", "policy-fail-closed", "live-policy-fresh", "POLICY_STALE", func() {
			pd.harness.now = func() time.Time { return time.Now().Add(-3 * time.Hour) }
			pd.run("policy", "publish", pd.policyFile, "--key", pd.key).want(t, 0, "published")
			pd.harness.now = nil
		}},
	}
	for _, bc := range cases {
		bc.do()
		var prev map[string]string
		for i := range 2 {
			r = pd.run("proof", "run", bc.proof)
			r.want(t, 1, fmt.Sprintf("FAIL %s/%s: ", bc.proof, bc.test), bc.evidence)
			v := proofVerdicts(t, r.stdout)
			if i == 1 {
				sameVerdicts(t, prev, v)
			}
			prev = v
		}
		t.Logf("%s: %s FAILS: %s", bc.name, bc.proof, regexp.MustCompile(`(?m)^FAIL `+regexp.QuoteMeta(bc.proof+"/"+bc.test)+`: .*$`).FindString(r.stdout))
	}
	pd.run("proof", "ledger", "--count", "1", "--json").want(t, 0, `"result": "FAIL"`, `"failed_tests": [`, `"live-policy-fresh"`)
	if left := scratchLeft(t, pd); len(left) > 0 {
		t.Errorf("scratch keys left behind: %v", left)
	}
}

func sameVerdicts(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("rerun ran %d tests, first run %d", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("rerun: %s %s, first run %s", k, b[k], v)
		}
	}
}

func TestProofCommands(t *testing.T) {
	pe := newPolicyEnv(t)
	r := pe.run("proof", "list")
	r.want(t, 0, "policy-fail-closed (", "exit-owner-gate (", "policy-refresh (", "exit-owner-watch (", "scripts/proof_exit_owner_watch.sh")
	pe.run("proof", "run").want(t, 2, "name at least one proof")
	pe.run("proof", "run", "nope").want(t, 2, `unknown proof "nope"`)
	pe.run("proof", "all", "--format", "xml").want(t, 2, "--format")
	pe.run("proof", "ledger").want(t, 0, "**Status:** never run")
	pe.run("proof", "ledger", "--count", "3").want(t, 0, "no proof runs")

	// Without a deployment every proof fails, saying why, in every format.
	r = pe.run("proof", "run", "exit-owner-gate", "--timeout", "1s")
	r.want(t, 1, "FAIL exit-owner-gate/auth-required: setup failed: no canary key", "0 passed, 9 failed, 0 skipped")
	// A proof key but no apply layer: every canary test says so.
	key := pe.run("plan", "keygen", "--source", "quantum_proof")
	pe.env["QUANTUM_PROOF_KEY_FILE"] = filepath.Join(pe.dir, "proof.key")
	if err := os.WriteFile(pe.env["QUANTUM_PROOF_KEY_FILE"], []byte(key.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	r = pe.run("proof", "run", "exit-owner-gate", "--timeout", "300ms")
	r.want(t, 1, "FAIL exit-owner-gate/forged-owner: plan proof-", "no result within 300ms: is quantum-apply-layer running with this prefix", "0 passed, 8 failed, 1 skipped")
	r = pe.run("proof", "run", "policy-fail-closed", "--format", "tap")
	r.want(t, 1, "TAP version 13", "not ok 1 - policy-fail-closed/live-policy-verifies", "ok 3 - policy-fail-closed/missing-policy # store and gate both deny POLICY_MISSING")
	r = pe.run("proof", "run", "exit-owner-watch", "--format", "junit")
	r.want(t, 1, `<testsuite name="exit-owner-watch" tests="11" failures="2" skipped="1"`, `<failure message="no heartbeat at`)
	r = pe.run("proof", "run", "policy-refresh", "--format", "json")
	r.want(t, 1, `"proof": "policy-refresh"`, `"status": "PASS"`, `"failed": `)
	pe.run("proof", "ledger", "--count", "4").want(t, 0, "policy-refresh", "FAIL", "live-policy-fresh")
}
