package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
)

const samplePolicy = policytest.ContentJSON

// policyEnv is a harness wired to the shared test Redis under a fresh
// prefix, with a generated key pair.
type policyEnv struct {
	*harness
	rd            *redistest.Env
	dir           string
	key, pub      string
	policyFile    string
	otherKey      string
	otherPub      string
	currentFields func() map[string]string
}

func newPolicyEnv(t *testing.T) *policyEnv {
	rd := redistest.New(t)
	dir := t.TempDir()
	pe := &policyEnv{rd: rd, dir: dir}
	pe.harness = newHarness(t, map[string]string{
		"QUANTUM_REDIS_URL": rd.Server.URL(),
		"QUANTUM_PREFIX":    rd.Keys.Prefix(),
	})
	pe.run("policy", "keygen", "--out", filepath.Join(dir, "k")).want(t, 0, "key_id")
	pe.run("policy", "keygen", "--out", filepath.Join(dir, "other")).want(t, 0, "key_id")
	pe.key, pe.pub = filepath.Join(dir, "k", "policy.key"), filepath.Join(dir, "k", "policy.pub")
	pe.otherKey, pe.otherPub = filepath.Join(dir, "other", "policy.key"), filepath.Join(dir, "other", "policy.pub")
	pe.policyFile = writeFile(t, dir, "policy.json", samplePolicy)
	pe.currentFields = func() map[string]string {
		f, err := rd.Client.HGetAll(context.Background(), rd.Keys.PolicyCurrent()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return pe
}

func TestPolicyPublishVerifyShowAudit(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_MISSING ")
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0, "published policy_version=1.0.0-ai-v1 policy_seq=1")
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--validity", "3h").want(t, 0, "policy_seq=2")

	r := pe.run("policy", "verify", "--pubkey", pe.pub)
	r.want(t, 0, "OK policy_version=1.0.0-ai-v1 policy_seq=2", "trading_state=ACTIVE")
	if !strings.Contains(r.stdout, "remaining_sec=10799") && !strings.Contains(r.stdout, "remaining_sec=10800") {
		t.Errorf("--validity 3h not honoured: %s", r.stdout)
	}
	var v map[string]any
	r = pe.run("policy", "verify", "--pubkey", pe.pub, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["ok"] != true || v["policy_seq"] != 2.0 {
		t.Fatalf("verify --json: %v %s", err, r.stdout)
	}

	pe.run("policy", "show").want(t, 0, "universe_symbols", `["BTCUSDT","ETHUSDT"]`, "verified", "not checked")
	pe.run("policy", "show", "--pubkey", pe.pub).want(t, 0, "yes: signed by key_id")
	r = pe.run("policy", "show", "--json")
	var shown struct{ Fields map[string]string }
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Fields["policy_seq"] != "2" {
		t.Fatalf("show --json: %v %s", err, r.stdout)
	}

	r = pe.run("policy", "audit", "--count", "5")
	r.want(t, 0, "RESULT", "published", "6.0x-15.0x")
	if n := strings.Count(r.stdout, "published"); n != 2 {
		t.Fatalf("audit shows %d published entries, want 2:\n%s", n, r.stdout)
	}
	var entries []map[string]string
	r = pe.run("policy", "audit", "--count", "1", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) != 1 || entries[0]["policy_seq"] != "2" {
		t.Fatalf("audit --json: %v %s", err, r.stdout)
	}
}

// TestTamperByHand is the manual check, automated: HSET of any
// single field of the live policy makes verify exit 1 with
// POLICY_HASH_MISMATCH or POLICY_SIGNATURE_INVALID; HDEL gives
// POLICY_MISSING_FIELD (POLICY_UNSIGNED for the signature fields,
// POLICY_SIGNATURE_INVALID for policy_encoding: it reads as v1).
func TestTamperByHand(t *testing.T) {
	pe := newPolicyEnv(t)
	ctx := context.Background()
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0)
	orig := pe.currentFields()
	restore := func() {
		pe.rd.Client.Del(ctx, pe.rd.Keys.PolicyCurrent())
		pe.rd.Client.HSet(ctx, pe.rd.Keys.PolicyCurrent(), orig)
		pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")
	}
	for field, v := range orig {
		t.Run("HSET "+field, func(t *testing.T) {
			pe.rd.Client.HSet(ctx, pe.rd.Keys.PolicyCurrent(), field, v+"0")
			r := pe.run("policy", "verify", "--pubkey", pe.pub)
			if r.code != 1 || !(strings.HasPrefix(r.stdout, "POLICY_HASH_MISMATCH ") || strings.HasPrefix(r.stdout, "POLICY_SIGNATURE_INVALID ")) {
				t.Fatalf("HSET %s: exit %d %q", field, r.code, r.stdout)
			}
			restore()
		})
		t.Run("HDEL "+field, func(t *testing.T) {
			pe.rd.Client.HDel(ctx, pe.rd.Keys.PolicyCurrent(), field)
			want := "POLICY_MISSING_FIELD "
			if field == policy.FieldSignature || field == policy.FieldKeyID {
				want = "POLICY_UNSIGNED "
			}
			if field == policy.FieldMaxNotional || field == policy.FieldMaxOrdersPerMinute {
				want = "POLICY_HASH_MISMATCH " // optional fields: removing one changes the hash
			}
			if field == policy.FieldEncoding {
				want = "POLICY_SIGNATURE_INVALID " // now a v1 policy, which readers refuse by default
			}
			pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, want)
			restore()
		})
	}
}

func TestPolicyRefusals(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--seq", "5").want(t, 0, "policy_seq=5")
	before := pe.currentFields()

	// A lower or equal --seq is refused and leaves the live policy as it was.
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--seq", "4").want(t, 1, "refused: POLICY_ROLLBACK", "live policy_seq is 5")
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--seq", "5").want(t, 1, "POLICY_ROLLBACK")
	if after := pe.currentFields(); after["policy_hash"] != before["policy_hash"] || len(after) != len(before) {
		t.Fatal("a refused publish changed the live policy")
	}

	// A signer the readers do not trust is refused at publish time...
	pe.run("policy", "publish", pe.policyFile, "--key", pe.otherKey, "--pubkey", pe.pub).want(t, 1, "POLICY_SIGNATURE_INVALID", "not trusted")
	// ...and a policy it managed to write is refused by readers.
	pe.run("policy", "publish", pe.policyFile, "--key", pe.otherKey).want(t, 0, "policy_seq=6")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_SIGNATURE_INVALID", "not trusted")
	// Trusting both keys (rotation) accepts it.
	pe.run("policy", "verify", "--pubkey", pe.pub+","+pe.otherPub).want(t, 0, "OK ")

	// Invalid content never reaches Redis.
	bad := writeFile(t, pe.dir, "bad.json", strings.Replace(samplePolicy, `"ETHUSDT": 6`, `"ETHUSDT": 200`, 1))
	pe.run("policy", "publish", bad, "--key", pe.key).want(t, 1, "POLICY_INVALID", "leverage for ETHUSDT is 200")
	typo := writeFile(t, pe.dir, "typo.json", strings.Replace(samplePolicy, `"kill_params"`, `"kill_parms"`, 1))
	pe.run("policy", "publish", typo, "--key", pe.key).want(t, 1, `unknown field "kill_parms"`)
	noState := writeFile(t, pe.dir, "nostate.json", strings.Replace(samplePolicy, `"trading_state": "ACTIVE",`, ``, 1))
	pe.run("policy", "publish", noState, "--key", pe.key).want(t, 1, "POLICY_INVALID", "trading_state")
	pe.run("policy", "verify", "--pubkey", pe.pub+","+pe.otherPub).want(t, 0, "policy_seq=6")

	// A signing key others can read is refused.
	if err := os.Chmod(pe.key, 0o644); err != nil {
		t.Fatal(err)
	}
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 1, "chmod 600")
	// Verify without a key fails closed.
	pe.run("policy", "verify").want(t, 1, "POLICY_KEY_UNAVAILABLE", "no trusted public key")
	// A missing, unreadable or group-writable key file is the reader's
	// setup, not tampering: its own code, never a signature code.
	r := pe.run("policy", "verify", "--pubkey", filepath.Join(pe.dir, "nope.pub"))
	r.want(t, 1, "POLICY_KEY_UNAVAILABLE", "nope.pub", "no such file")
	if strings.Contains(r.stdout, "SIGNATURE") {
		t.Errorf("a missing key file read as a signature problem: %s", r.stdout)
	}
	loose := writeFile(t, pe.dir, "loose.pub", readFile(t, pe.pub))
	os.Chmod(loose, 0o666)
	pe.run("policy", "verify", "--pubkey", loose).want(t, 1, "POLICY_KEY_UNAVAILABLE", "chmod 644")
	os.Chmod(loose, 0o644)
	empty := writeFile(t, pe.dir, "empty.pub", "not a key\n")
	pe.run("policy", "verify", "--pubkey", empty, "--json").want(t, 1, `"reason": "POLICY_KEY_UNAVAILABLE"`)
	// Usage errors are exit 1 for verify (anything but a verified policy).
	pe.run("policy", "verify", "--nope").want(t, 1)
}

func TestPolicyStdinAndEnvKeys(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.env["QUANTUM_POLICY_KEY"] = pe.key
	pe.env["QUANTUM_POLICY_PUBKEY"] = pe.pub
	pe.runIn(context.Background(), samplePolicy, "policy", "publish", "-").want(t, 0, "policy_seq=1")
	pe.run("policy", "verify").want(t, 0, "OK ")
	// A flag overrides its variable.
	pe.run("policy", "verify", "--pubkey", pe.otherPub).want(t, 1, "POLICY_SIGNATURE_INVALID")
	pe.run("policy", "verify", "--prefix", "elsewhere").want(t, 1, "POLICY_MISSING")
}

func TestStaleAndClock(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--validity", "1h").want(t, 0)
	pe.now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_STALE")
	pe.now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_NOT_YET_VALID")
}

func TestRedisUnavailableAndSecrets(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.env["QUANTUM_REDIS_URL"] = "redis://operator:hunter2-secret@127.0.0.1:1/0"
	r := pe.run("policy", "verify", "--pubkey", pe.pub)
	r.want(t, 1, "POLICY_UNAVAILABLE")
	r2 := pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--log-format", "json")
	r2.want(t, 1, "POLICY_UNAVAILABLE")
	r3 := pe.run("policy", "show", "--redis", "redis://operator:hunter2-secret@[::1", "--log-level", "debug")
	for _, out := range []result{r, r2, r3} {
		if strings.Contains(out.stdout+out.stderr, "hunter2") {
			t.Fatalf("a Redis password was printed:\n%s%s", out.stdout, out.stderr)
		}
	}
}

// TestRedisACLUserInURL: user and password in the URL authenticate, over a
// unix socket and over TCP.
func TestRedisACLUserInURL(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TCP: true, Args: []string{
		"--user", "default", "off",
		"--user", "publisher", "on", ">s3cret-pw", "~*", "&*", "+@all",
	}})
	dir := t.TempDir()
	h := newHarness(t, map[string]string{})
	h.run("policy", "keygen", "--out", dir).want(t, 0)
	file := writeFile(t, dir, "p.json", samplePolicy)
	key, pub := filepath.Join(dir, "policy.key"), filepath.Join(dir, "policy.pub")
	unixURL := "unix://publisher:s3cret-pw@" + srv.Socket()
	tcpURL := "redis://publisher:s3cret-pw@" + srv.Addr() + "/0"
	h.run("policy", "publish", file, "--key", key, "--redis", unixURL).want(t, 0, "policy_seq=1")
	h.run("policy", "verify", "--pubkey", pub, "--redis", tcpURL).want(t, 0, "OK ")
	h.run("policy", "verify", "--pubkey", pub, "--redis", "redis://publisher:wrong@"+srv.Addr()+"/0").want(t, 1, "POLICY_UNAVAILABLE")
}
