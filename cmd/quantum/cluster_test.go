package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
)

// TestClusterRefusesUntaggedPrefix: on a real three-master Redis Cluster,
// every command refuses the default prefix at start, naming the fix,
// before touching a key.
func TestClusterRefusesUntaggedPrefix(t *testing.T) {
	rc := redistest.StartCluster(t)
	h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": rc.URL()})
	dir := t.TempDir()
	h.run("policy", "keygen", "--out", filepath.Join(dir, "k")).want(t, 0, "key_id") // no Redis
	key, pub := filepath.Join(dir, "k", "policy.key"), filepath.Join(dir, "k", "policy.pub")
	tmpl := writeFile(t, dir, "policy.json", samplePolicy)
	for _, args := range [][]string{
		{"policy", "publish", tmpl, "--key", key},
		{"policy", "verify", "--pubkey", pub},
		{"policy", "refresh", "--template", tmpl, "--key", key, "--pubkey", pub},
		{"exit-owner", "watch"},
		{"status"},
		{"apply-layer", "--keyring", key, "--pubkey", pub, "--metrics-addr", ""},
	} {
		r := h.run(args...)
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, redisconn.ErrClusterPrefix.Error()) {
			t.Errorf("%s: exit %d, want a refusal naming the hash tag\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	c := rc.Client()
	defer c.Close()
	n, err := c.DBSize(context.Background()).Result()
	if err != nil || n != 0 {
		t.Fatalf("the refused commands wrote %d keys (%v)", n, err)
	}
}

// deployment is a fresh namespace on a Redis of the test's own (Sentinel,
// Cluster): a harness pointed at it, a policy key pair, a template with
// SOLUSDT, producers' keys and their keyring.
type deployment struct {
	harness          *harness
	key, pub, tmpl   string
	keyring          string
	keyFiles         map[string]string
	proofKey         string
	redisURL, prefix string
}

func newDeployment(t *testing.T, url, prefix string) *deployment {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"QUANTUM_REDIS_URL": url}
	if prefix != "" {
		vars["QUANTUM_PREFIX"] = prefix
	}
	d := &deployment{harness: newHarness(t, vars), keyFiles: map[string]string{}, redisURL: url, prefix: prefix}
	d.harness.run("policy", "keygen", "--out", filepath.Join(dir, "k")).want(t, 0, "key_id")
	d.key, d.pub = filepath.Join(dir, "k", "policy.key"), filepath.Join(dir, "k", "policy.pub")
	var lines []string
	for _, src := range []string{"intent_bridge", "exitbrain_v3_5", "rogue"} {
		r := d.harness.run("plan", "keygen", "--source", src)
		r.want(t, 0, src+" ")
		lines = append(lines, strings.TrimSpace(r.stdout))
		d.keyFiles[src] = filepath.Join(dir, src+".key")
		if err := os.WriteFile(d.keyFiles[src], []byte(r.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := d.harness.run("plan", "keygen", "--source", "quantum_proof")
	r.want(t, 0, "quantum_proof ")
	lines = append(lines, strings.TrimSpace(r.stdout))
	d.proofKey = filepath.Join(dir, "proof.key")
	if err := os.WriteFile(d.proofKey, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	d.harness.env["QUANTUM_PROOF_KEY_FILE"] = d.proofKey
	d.keyring = filepath.Join(dir, "keyring")
	if err := os.WriteFile(d.keyring, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	content := strings.Replace(samplePolicy, `"ETHUSDT"]`, `"ETHUSDT", "SOLUSDT"]`, 1)
	content = strings.Replace(content, `"ETHUSDT": 6}`, `"ETHUSDT": 6, "SOLUSDT": 5}`, 1)
	d.tmpl = writeFile(t, dir, "policy.json", content)
	d.harness.env["QUANTUM_POLICY_PUBKEY"] = d.pub
	return d
}

// applyLayerArgs are the arguments of an apply layer on the deployment.
func (d *deployment) applyLayerArgs() []string {
	args := []string{"apply-layer", "--redis", d.redisURL, "--allow-unsafe-redis", "--keyring", d.keyring, "--pubkey", d.pub,
		"--paper-price", "SOLUSDT=150", "--paper-price", "BTCUSDT=65000", "--metrics-addr", "", "--log-format", "json"}
	if d.prefix != "" {
		args = append(args, "--prefix", d.prefix)
	}
	return args
}

// TestClusterFlow: with --prefix '{quantum}' on a real three-master Redis
// Cluster, whose keys then all live on the node owning slot of "quantum",
// the whole flow works through redis+cluster://: policy publish, refresh
// and verify, an apply layer executing and denying plans, exit-owner watch
// raising the alert for the denial, status, and every proof.
func TestClusterFlow(t *testing.T) {
	rc := redistest.StartCluster(t)
	ks := keys.MustNew("{quantum}")
	d := newDeployment(t, rc.URL(), ks.Prefix())
	h, key, pub, tmpl, keyFiles := d.harness, d.key, d.pub, d.tmpl, d.keyFiles
	h.run("policy", "publish", tmpl, "--key", key).want(t, 0, "policy_seq=1")
	h.run("policy", "refresh", "--template", tmpl, "--key", key, "--pubkey", pub).want(t, 0, "policy_seq=2")
	h.run("policy", "verify", "--pubkey", pub).want(t, 0, "OK policy_version=1.0.0-ai-v1 policy_seq=2")
	h.run("policy", "audit").want(t, 0, "published")

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, d.applyLayerArgs(),
			&cli.Env{Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs, Getenv: func(string) string { return "" }})
	}()
	h.run("plan", "send", "--key-file", keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "2", "--wait", "10s").
		want(t, 0, "EXECUTED", "filled_qty")
	h.run("plan", "send", "--key-file", keyFiles["rogue"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "2", "--reduce-only", "--wait", "10s").
		want(t, 1, "DENIED", "DENY_NOT_EXIT_OWNER")
	h.run("plan", "send", "--key-file", keyFiles["exitbrain_v3_5"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "2", "--reduce-only", "--wait", "10s").
		want(t, 0, "EXECUTED")
	h.run("exit-owner", "watch").want(t, 1, "DENY_NOT_EXIT_OWNER")
	h.run("status").want(t, 1)
	// The proofs, whose scratch namespaces carry a hash tag of their own:
	// every test passes (the timer tests skip without systemd), and the
	// scratch keys are gone afterwards (checked below: no key off the tag).
	h.run("plan", "send", "--key-file", keyFiles["intent_bridge"], "--symbol", "BTCUSDT", "--side", "BUY", "--qty", "0.01", "--wait", "10s").
		want(t, 0, "EXECUTED")
	pr := h.run("proof", "all")
	pr.want(t, 0, " 0 failed, ")
	for test, v := range proofVerdicts(t, pr.stdout) {
		if v != "PASS" && !strings.HasSuffix(test, "-timer-active") {
			t.Errorf("proof %s: %s\n%s", test, v, pr.stdout)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("apply-layer exited %d:\n%s", code, logs.String())
	}

	// Every key is under the tag, so on the one node owning its slot.
	c := rc.Client()
	defer c.Close()
	owner, err := rc.NodeFor(context.Background(), ks.PolicyCurrent())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rc.Nodes {
		nc := n.TCPClient()
		size, err := nc.DBSize(context.Background()).Result()
		nc.Close()
		switch {
		case err != nil:
			t.Fatal(err)
		case n == owner && size < 5:
			t.Errorf("owner %s holds %d keys, want the whole flow's", n.Addr(), size)
		case n != owner && size != 0:
			t.Errorf("node %s holds %d keys: a key escaped the hash tag", n.Addr(), size)
		}
	}
}
