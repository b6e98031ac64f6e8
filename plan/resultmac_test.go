package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/plan"
)

var resultKey = []byte("result-key-0123456789abcdef0123456789abcdef")

func signedValues(r plan.Result, key []byte) map[string]any {
	f := r.SignedFields(key)
	v := map[string]any{}
	for i := 0; i < len(f); i += 2 {
		v[f[i]] = f[i+1]
	}
	return v
}

// TestResultMAC: a result signed by the apply layer verifies; any change a
// writer of the stream could make does not.
func TestResultMAC(t *testing.T) {
	good := signedValues(sampleResult(), resultKey)
	if !plan.VerifyResult(good, resultKey) {
		t.Fatal("a signed result does not verify")
	}
	if plan.VerifyResult(good, []byte("another-key-0123456789abcdef0123456789")) {
		t.Fatal("a result verifies under another key")
	}
	for name, mutate := range map[string]func(v map[string]any){
		"decision changed":          func(v map[string]any) { v["decision"] = "DENIED" },
		"reason added":              func(v map[string]any) { v["reason"] = "DENY_NOT_EXIT_OWNER" },
		"field added":               func(v map[string]any) { v["extra"] = "1" },
		"field removed":             func(v map[string]any) { delete(v, "detail") },
		"mac removed":               func(v map[string]any) { delete(v, "result_mac") },
		"mac upper case":            func(v map[string]any) { v["result_mac"] = strings.ToUpper(v["result_mac"].(string)) },
		"mac truncated":             func(v map[string]any) { v["result_mac"] = v["result_mac"].(string)[:62] },
		"name outside [A-Za-z0-9_]": func(v map[string]any) { v["a=1:b"] = "" },
		"not a string":              func(v map[string]any) { v["canary"] = 1 },
	} {
		v := map[string]any{}
		for k, x := range good {
			v[k] = x
		}
		mutate(v)
		if plan.VerifyResult(v, resultKey) {
			t.Errorf("%s: still verifies", name)
		}
	}
	if unsigned := signedValues(sampleResult(), nil); plan.VerifyResult(unsigned, resultKey) {
		t.Error("an unsigned result verifies")
	}
	rapid.Check(t, func(t *rapid.T) { // any change of any value breaks it
		v := map[string]any{}
		for k, x := range good {
			v[k] = x
		}
		names := []string{"plan_id", "source", "symbol", "decision", "executed", "filled_qty", "canary", "timestamp", "consumer"}
		k := rapid.SampledFrom(names).Draw(t, "field")
		nv := rapid.String().Draw(t, "value")
		if nv == v[k] {
			return
		}
		v[k] = nv
		if plan.VerifyResult(v, resultKey) {
			t.Fatalf("%s=%q still verifies", k, nv)
		}
	})
}

// TestLoadResultKey: the file's mode and content are checked, and an error
// never quotes the content.
func TestLoadResultKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	hex64 := strings.Repeat("ab", 32)
	if k, err := plan.LoadResultKey(write("ok", hex64+"\n", 0o600)); err != nil || len(k) != 32 {
		t.Fatalf("good key: %v", err)
	}
	for name, p := range map[string]string{
		"group readable": write("g", hex64, 0o640),
		"short":          write("s", "abcd", 0o600),
		"upper case":     write("u", strings.ToUpper(hex64), 0o600),
		"not hex":        write("n", "secret-"+hex64, 0o600),
	} {
		_, err := plan.LoadResultKey(p)
		if err == nil || strings.Contains(err.Error(), hex64) || strings.Contains(err.Error(), "secret-") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLoadResultKeyIfSet: no path is no key; a path is loaded and checked
// as LoadResultKey does (a file others can read is refused, not skipped).
func TestLoadResultKeyIfSet(t *testing.T) {
	if k, err := plan.LoadResultKeyIfSet(""); k != nil || err != nil {
		t.Fatalf("no path: %x, %v", k, err)
	}
	p := filepath.Join(t.TempDir(), "result.key")
	if err := os.WriteFile(p, []byte(strings.Repeat("cd", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if _, err := plan.LoadResultKeyIfSet(p); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
	os.Chmod(p, 0o600)
	if k, err := plan.LoadResultKeyIfSet(p); err != nil || len(k) != 32 {
		t.Fatalf("a good key: %d bytes, %v", len(k), err)
	}
}
