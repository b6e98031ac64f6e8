package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
)

func (pe *policyEnv) alerts() []map[string]string {
	return redistest.StreamEntries(pe.t, pe.rd.Client, pe.rd.Keys.Alerts())
}

func (pe *policyEnv) auditEntries() []map[string]string {
	return redistest.StreamEntries(pe.t, pe.rd.Client, pe.rd.Keys.PolicyAudit())
}

func TestPolicyRefresh(t *testing.T) {
	pe := newPolicyEnv(t)
	fixed := time.Now().Truncate(time.Second)
	pe.now = func() time.Time { return fixed }
	r := pe.run("policy", "refresh", "--template", pe.policyFile, "--key", pe.key, "--pubkey", pe.pub)
	r.want(t, 0, "published policy_version=1.0.0-ai-v1 policy_seq=1", "[POLICY-REFRESH] POLICY_STATE: version=1.0.0-ai-v1 hash=",
		"remaining_sec=7200", "[POLICY-REFRESH] POLICY_AUDIT: result=published policy_seq=1")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK policy_version=1.0.0-ai-v1 policy_seq=1")
	if f := pe.currentFields(); f["generator"] != "quantum policy refresh" {
		t.Fatalf("generator %q", f["generator"])
	}

	// The generator path, configured entirely by the environment as under systemd.
	pe.env["QUANTUM_POLICY_GENERATOR"] = "cat " + pe.policyFile
	pe.env["QUANTUM_POLICY_KEY"] = pe.key
	pe.env["QUANTUM_POLICY_PUBKEY"] = pe.pub
	pe.env["QUANTUM_POLICY_VALIDITY"] = "3h"
	var out map[string]any
	r = pe.run("policy", "refresh", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out["published"] != true || out["policy_seq"] != 2.0 {
		t.Fatalf("refresh --json: exit %d %v %s %s", r.code, err, r.stdout, r.stderr)
	}
	pe.run("policy", "verify").want(t, 0, "policy_seq=2", "remaining_sec=10800")
	// A flag overrides its variable.
	pe.run("policy", "refresh", "--validity", "2h").want(t, 0, "policy_seq=3", "remaining_sec=7200")
	if a := pe.auditEntries(); len(a) != 3 || a[2]["result"] != "published" {
		t.Fatalf("audit %v", a)
	}
}

// TestPolicyRefreshRefused: a refusal exits 2, leaves the live policy as it
// was, and is in the audit trail and on the alert stream; the next success
// resolves the alert.
func TestPolicyRefreshRefused(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.env["QUANTUM_POLICY_KEY"] = pe.key
	pe.env["QUANTUM_POLICY_PUBKEY"] = pe.pub
	pe.run("policy", "refresh", "--template", pe.policyFile).want(t, 0, "policy_seq=1")
	before := pe.currentFields()

	empty := writeFile(t, pe.dir, "empty.json", strings.Replace(samplePolicy, `["BTCUSDT", "ETHUSDT"]`, `[]`, 1))
	r := pe.run("policy", "refresh", "--template", empty)
	r.want(t, 2, "refused: POLICY_INVALID", "universe_symbols is empty", "[POLICY-REFRESH] refused: the live policy is untouched")
	pe.run("policy", "refresh", "--template", pe.policyFile, "--max-leverage", "10").want(t, 2, "REFRESH_LEVERAGE_ABOVE_CAP", "BTCUSDT=15")
	pe.run("policy", "refresh", "--generator", "exit 7").want(t, 2, "REFRESH_GENERATOR_FAILED", "exit status 7")
	pe.run("policy", "refresh", "--template", pe.policyFile, "--validity", "40m").want(t, 2, "REFRESH_VALIDITY_TOO_SHORT")
	if after := pe.currentFields(); len(after) != len(before) || after["policy_hash"] != before["policy_hash"] {
		t.Fatal("a refused refresh changed the live policy")
	}
	a := pe.auditEntries()
	if len(a) != 5 || a[1]["result"] != "rejected" || a[1]["reason"] != "POLICY_INVALID" || a[4]["reason"] != "REFRESH_VALIDITY_TOO_SHORT" {
		t.Fatalf("audit %v", a)
	}
	pe.run("policy", "audit", "--count", "1").want(t, 0, "rejected", "REFRESH_VALIDITY_TOO_SHORT")
	al := pe.alerts()
	if len(al) != 1 || al[0]["alert_type"] != "POLICY_REFRESH_FAILED" || al[0]["status"] != "firing" || al[0]["reason"] != "POLICY_INVALID" {
		t.Fatalf("alerts %v: want one firing POLICY_REFRESH_FAILED (the later failures held by the repeat interval)", al)
	}

	// A signing key others can read: refused, audited and alerted like any failure.
	if err := os.Chmod(pe.key, 0o644); err != nil {
		t.Fatal(err)
	}
	pe.run("policy", "refresh", "--template", pe.policyFile).want(t, 2, "REFRESH_CONFIG_INVALID", "chmod 600")
	if a := pe.auditEntries(); a[len(a)-1]["reason"] != "REFRESH_CONFIG_INVALID" {
		t.Fatalf("last audit entry %v", a[len(a)-1])
	}
	if err := os.Chmod(pe.key, 0o600); err != nil {
		t.Fatal(err)
	}
	pe.run("policy", "refresh", "--template", pe.policyFile).want(t, 0, "policy_seq=2", "alert published", "outcome=resolved")
	if al := pe.alerts(); len(al) != 2 || al[1]["status"] != "resolved" || al[1]["alert_id"] != al[0]["alert_id"] {
		t.Fatalf("alerts %v", al)
	}

	// Redis down: exit 2, with the reason code.
	pe.run("policy", "refresh", "--template", pe.policyFile, "--redis", "redis://127.0.0.1:1/0").want(t, 2, "POLICY_UNAVAILABLE")
}

func TestPolicyRefreshUsage(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "refresh", "--key", pe.key).want(t, 2, "--template FILE or --generator CMD")
	pe.run("policy", "refresh", "--key", pe.key, "--template", "a", "--generator", "b").want(t, 2, "exclude each other")
	pe.run("policy", "refresh", "--template", pe.policyFile).want(t, 2, "--key FILE (or QUANTUM_POLICY_KEY) is required")
	pe.run("policy", "refresh", "--template", pe.policyFile, "--key", pe.key, "--max-leverage", "500").want(t, 2, "--max-leverage 500")
	pe.run("policy", "refresh", "--bogus").want(t, 2, "quantum help policy refresh")
	pe.env["QUANTUM_POLICY_TEMPLATE"] = pe.policyFile
	pe.env["QUANTUM_POLICY_GENERATOR"] = "cat " + pe.policyFile
	pe.run("policy", "refresh", "--key", pe.key).want(t, 2, "both QUANTUM_POLICY_TEMPLATE and QUANTUM_POLICY_GENERATOR")
	delete(pe.env, "QUANTUM_POLICY_GENERATOR")
	pe.env["QUANTUM_POLICY_VALIDITY"] = "two hours"
	pe.run("policy", "refresh", "--key", pe.key).want(t, 2, `QUANTUM_POLICY_VALIDITY="two hours"`)
	pe.run("policy", "refresh", "--key", pe.key, "--validity", "2h").want(t, 0, "policy_seq=1")
	// Nothing but that last run reached Redis.
	if a := pe.auditEntries(); len(a) != 1 || len(pe.alerts()) != 0 {
		t.Fatalf("usage errors wrote to Redis: audit %v alerts %v", a, pe.alerts())
	}
	pe.run("help", "policy", "refresh").want(t, 0, "Exit status: 0 published; 2 refused or failed", "QUANTUM_POLICY_TEMPLATE",
		"QUANTUM_POLICY_GENERATOR", "QUANTUM_POLICY_KEY", "QUANTUM_POLICY_PUBKEY", "--max-leverage", "--expiry-alarm")
}

// TestVerifyExpiryAlarm: verify raises POLICY_EXPIRING for a valid policy
// under the threshold, once per incident, keeps exit 0, and the refresh's
// next success resolves it.
func TestVerifyExpiryAlarm(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key, "--validity", "40m").want(t, 0)
	r := pe.run("policy", "verify", "--pubkey", pe.pub)
	r.want(t, 0, "OK policy_version=", "[POLICY-EXPIRY] POLICY_EXPIRING: policy_seq=1", "threshold_sec=2700", "alert published")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "held by the repeat interval")
	al := pe.alerts()
	if len(al) != 1 || al[0]["alert_type"] != "POLICY_EXPIRING" || al[0]["status"] != "firing" || al[0]["severity"] != "critical" || al[0]["window"] != "45min" {
		t.Fatalf("alerts %v", al)
	}
	var out map[string]any
	r = pe.run("policy", "verify", "--pubkey", pe.pub, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["expiring"] != true || out["expiry_alert"] != "held" {
		t.Fatalf("verify --json: %v %s", err, r.stdout)
	}
	// --expiry-alarm 0 turns the alarm off; a bad variable is a usage error (exit 1 for verify).
	pe.run("policy", "verify", "--pubkey", pe.pub, "--expiry-alarm", "0").want(t, 0)
	pe.env["QUANTUM_POLICY_EXPIRY_ALARM"] = "soon"
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, `QUANTUM_POLICY_EXPIRY_ALARM="soon"`)
	delete(pe.env, "QUANTUM_POLICY_EXPIRY_ALARM")

	// An hour later (re-notification due), the refresh publishes a fresh policy: resolved.
	pe.now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_STALE")
	// The refresh compares its clock with Redis TIME and refuses one an
	// hour ahead (TestRefreshClockSkew): it runs on the real clock.
	pe.now = nil
	pe.run("policy", "refresh", "--template", pe.policyFile, "--key", pe.key, "--pubkey", pe.pub).want(t, 0, "policy_seq=2")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")
	al = pe.alerts()
	var types []string
	for _, a := range al {
		types = append(types, a["alert_type"]+"/"+a["status"])
	}
	// The refresh's success resolved the incident verify had raised.
	if got := strings.Join(types, ","); got != "POLICY_EXPIRING/firing,POLICY_EXPIRING/resolved" {
		t.Fatalf("alerts %s", got)
	}
}
