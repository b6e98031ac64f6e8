package canon_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/reason"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// python is the interpreter the Python producers run on.
const python = "/usr/bin/python3"

// snippet returns the ```python block that follows <!-- python:name -->
// in a doc: the exact code the docs give producers and readers.
func snippet(t *testing.T, doc, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- python:" + regexp.QuoteMeta(name) + " -->\\s*```python\\n(.*?)```")
	m := re.FindSubmatch(data)
	if m == nil {
		t.Fatalf("docs/%s has no <!-- python:%s --> block", doc, name)
	}
	return string(m[1])
}

// runPython runs code with stdin, failing the test with how to install
// python3 when it is missing.
func runPython(t *testing.T, code string, stdin []byte, env ...string) []byte {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found: the encoding tests run the docs' Python. Install it: apt-get install -y python3 python3-redis python3-cryptography (%v)", python, err)
	}
	path := filepath.Join(t.TempDir(), "snippet.py")
	if err := os.WriteFile(path, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, path)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s\n--- code:\n%s", err, stderr.String(), code)
	}
	return out
}

// planCases are field maps for both encoders: the golden plan, hostile
// values, many fields, and 200 random maps with names and values drawn
// from the encoding's own separators and non-ASCII text.
func planCases() []map[string]string {
	cases := []map[string]string{
		{"b": "2", "a": "x=1:y\n", "sig": "ignored"},
		{"plan_id": "golden-1", "qty": "0.015384615384615385", "reduceOnly": "True", "action": "é\"\n=:", "canary": ""},
		{},
	}
	many := map[string]string{}
	for i := range 40 {
		many[fmt.Sprintf("f%02d", i)] = strings.Repeat("v", i)
	}
	cases = append(cases, many)
	r := rand.New(rand.NewPCG(17, 2))
	alphabet := []rune("ab_=:\n1é€ ")
	str := func(max int) string {
		var b strings.Builder
		for range r.IntN(max + 1) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 200 {
		m := map[string]string{}
		for range r.IntN(6) {
			m[str(8)] = str(12)
		}
		cases = append(cases, m)
	}
	return cases
}

// TestPythonPlanEncodings runs the Python of docs/producers.md (the v2
// encoding and signer, and the v1 encoding) with the real python3 on 204
// field maps and checks its bytes and sigs are Go's, byte for byte.
func TestPythonPlanEncodings(t *testing.T) {
	harness := snippet(t, "producers.md", "plan-v2") + "\n" + snippet(t, "producers.md", "plan-v1") + `
import json, sys
out = []
for c in json.load(sys.stdin):
    out.append({"v2": canonical(c["fields"]).hex(), "v1": canonical_v1(c["fields"]).hex(),
                "sig": sign(c["fields"], c["secret"])})
json.dump(out, sys.stdout)
`
	secret := bytes.Repeat([]byte{0xa5}, 32)
	type in struct {
		Fields map[string]string `json:"fields"`
		Secret string            `json:"secret"`
	}
	cases := planCases()
	var ins []in
	for _, f := range cases {
		ins = append(ins, in{f, hex.EncodeToString(secret)})
	}
	stdin, _ := json.Marshal(ins)
	var outs []struct{ V1, V2, Sig string }
	if err := json.Unmarshal(runPython(t, harness, stdin), &outs); err != nil || len(outs) != len(cases) {
		t.Fatalf("python output: %v (%d results for %d cases)", err, len(outs), len(cases))
	}
	for i, f := range cases {
		if got, want := outs[i].V2, hex.EncodeToString(plan.Canonical(f)); got != want {
			t.Errorf("case %d %q: python v2 %s, Go %s", i, f, got, want)
		}
		if got, want := outs[i].V1, hex.EncodeToString(plan.CanonicalVersion(canon.V1, f)); got != want {
			t.Errorf("case %d %q: python v1 %s, Go %s", i, f, got, want)
		}
		if got, want := outs[i].Sig, plan.Sign(f, secret); got != want {
			t.Errorf("case %d %q: python sig %s, Go %s", i, f, got, want)
		}
	}
}

// TestReadmeSignerIsTheDocs: the README's signer is docs/producers.md's,
// character for character (TestPythonPlanEncodings runs that one).
func TestReadmeSignerIsTheDocs(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if s := snippet(t, "producers.md", "plan-v2"); !strings.Contains(string(readme), "```python\n"+s+"```") {
		t.Fatalf("README.md's Python signer differs from docs/producers.md's:\n%s", s)
	}
}

// TestPythonProducerEndToEnd runs the producer example of
// docs/producers.md as it stands (signer and sender) against a real
// redis-server, then reads the entry back as Redis returns it and parses
// and verifies it as the apply layer does.
func TestPythonProducerEndToEnd(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	secret := bytes.Repeat([]byte{0x3c}, 32)
	keyFile := filepath.Join(t.TempDir(), "intent_bridge.key")
	if err := os.WriteFile(keyFile, []byte("intent_bridge "+hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code := snippet(t, "producers.md", "plan-v2") + "\n" + snippet(t, "producers.md", "plan-send")
	runPython(t, code, nil, "QUANTUM_KEY_FILE="+keyFile, "REDIS_URL="+srv.URL())

	rdb := srv.Client()
	defer rdb.Close()
	raw, err := rdb.Do(context.Background(), "XRANGE", "quantum:stream:apply.plan", "-", "+").Slice()
	if err != nil || len(raw) != 1 {
		t.Fatalf("XRANGE: %v, %d entries", err, len(raw))
	}
	var pairs []string
	for _, v := range raw[0].([]any)[1].([]any) {
		pairs = append(pairs, v.(string))
	}
	p, err := plan.ParseEntry(pairs)
	if err != nil {
		t.Fatalf("the docs' plan does not parse: %v", err)
	}
	ring := plan.NewSecrets(map[string][]byte{"intent_bridge": secret})
	if known, ok := ring.Verify(p.Source, p.Fields, p.Sig); !known || !ok {
		t.Fatalf("the docs' plan does not verify (known %v): sig %s", known, p.Sig)
	}
	if !strings.HasPrefix(p.Sig, plan.SigPrefixV2) {
		t.Fatalf("the docs sign %q, not v2", p.Sig)
	}
}

var t0 = time.Unix(1_780_000_000, 0)

// TestPythonPolicyVerifier runs the verifier of docs/policy.md with the
// real python3 on Go-signed policies, genuine and attacked, v1 and v2, and
// checks it reaches Go's verdict with Go's reason code; then runs the
// reader example against a policy stored in a real redis-server.
func TestPythonPolicyVerifier(t *testing.T) {
	k := policytest.Key(t)
	dir := t.TempDir()
	_, pubPath, err := policy.WriteKeyPair(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	v2 := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 7), k))
	sp1, err := policy.SignVersion(canon.V1, policytest.Sample(t0, 7), k)
	if err != nil {
		t.Fatal(err)
	}
	v1 := policytest.Fields(t, sp1)
	with := func(f map[string]string, edit func(map[string]string)) map[string]string {
		c := make(map[string]string, len(f))
		for k, v := range f {
			c[k] = v
		}
		edit(c)
		return c
	}
	folded := with(v1, func(f map[string]string) {
		a, b := policy.FieldMaxNotional, policy.FieldMaxOrdersPerMinute
		f[a+"="+fmt.Sprint(len(f[a]))+":"+f[a]+"\n"+b] = f[b]
		delete(f, a)
		delete(f, b)
	})
	both, onlyV2 := []string{"v1", "v2"}, []string{"v2"}
	cases := []struct {
		name   string
		fields map[string]string
		accept []string
	}{
		{"v2", v2, onlyV2},
		{"v2, both accepted", v2, both},
		{"v1, v2 only", v1, onlyV2},
		{"v1, both accepted", v1, both},
		{"v1 folded", folded, both},
		{"upper-case signature", with(v2, func(f map[string]string) { f["signature"] = strings.ToUpper(f["signature"]) }), onlyV2},
		{"tampered cap", with(v2, func(f map[string]string) { f[policy.FieldMaxNotional] = `{"BTCUSDT":6000}` }), onlyV2},
		{"bad name", with(v2, func(f map[string]string) { f["kill-params"] = "{}" }), onlyV2},
		{"relabelled v1", with(v2, func(f map[string]string) { delete(f, policy.FieldEncoding) }), both},
		{"relabelled v2", with(v1, func(f map[string]string) { f[policy.FieldEncoding] = "v2" }), both},
		{"unknown encoding", with(v2, func(f map[string]string) { f[policy.FieldEncoding] = "v3" }), both},
	}
	type in struct {
		Fields map[string]string `json:"fields"`
		Accept []string          `json:"accept"`
	}
	var ins []in
	for _, c := range cases {
		ins = append(ins, in{c.fields, c.accept})
	}
	stdin, _ := json.Marshal(ins)
	harness := snippet(t, "policy.md", "policy-verify") + `
import json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
pub = load_pem_public_key(open(sys.argv[1] if len(sys.argv) > 1 else "` + pubPath + `", "rb").read())
out = []
for c in json.load(sys.stdin):
    try:
        verify(c["fields"], pub, tuple(c["accept"]))
        out.append("")
    except ValueError as e:
        out.append(str(e).split(":")[0])
    except InvalidSignature:
        out.append("POLICY_SIGNATURE_INVALID")
json.dump(out, sys.stdout)
`
	var got []string
	if err := json.Unmarshal(runPython(t, harness, stdin), &got); err != nil || len(got) != len(cases) {
		t.Fatalf("python output: %v (%d results)", err, len(got))
	}
	for i, c := range cases {
		vs, _ := canon.ParseVersions(strings.Join(c.accept, ","))
		_, err := policy.Verify(c.fields, policy.NewTrustedKeys(k.Public()).WithEncodings(vs), t0, time.Second)
		if want := string(reason.CodeOf(err)); got[i] != want {
			t.Errorf("%s: python says %q, Go %q (%v)", c.name, got[i], want, err)
		}
	}

	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client()
	defer rdb.Close()
	if err := rdb.HSet(context.Background(), "quantum:policy:current", v2).Err(); err != nil {
		t.Fatal(err)
	}
	reader := snippet(t, "policy.md", "policy-verify") + "\n" + snippet(t, "policy.md", "policy-read")
	if out := runPython(t, reader, nil, "REDIS_URL="+srv.URL(), "QUANTUM_POLICY_PUBKEY="+pubPath); strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("the docs' reader says %q", out)
	}
}
