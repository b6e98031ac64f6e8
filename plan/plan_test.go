package plan_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

func base() map[string]string {
	return map[string]string{
		"plan_id": "p-1", "decision": "EXECUTE", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
		"qty": "0.015", "reduceOnly": "false", "source": "intent_bridge", "timestamp": "1780000000",
	}
}

func TestParse(t *testing.T) {
	p, err := plan.Parse(base())
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "p-1" || p.Qty != 0.015 || p.QtyText != "0.015" || p.ReduceOnly || p.Timestamp.Unix() != 1780000000 {
		t.Fatalf("parsed %+v", p)
	}
	// Spellings the existing producers use.
	for v, want := range map[string]bool{"true": true, "True": true, "1": true, "false": false, "False": false, "0": false, "": false} {
		f := base()
		f["reduceOnly"] = v
		p, err := plan.Parse(f)
		if err != nil || p.ReduceOnly != want {
			t.Errorf("reduceOnly=%q: %v %v", v, p, err)
		}
	}
	f := base()
	f["timestamp"] = "1780000000.25"
	f["side"] = "sell"
	if p, err := plan.Parse(f); err != nil || p.Timestamp.UnixMilli() != 1780000000250 || p.Side != "SELL" {
		t.Errorf("fractional timestamp / lower-case side: %+v %v", p, err)
	}
	f = base()
	f["decision"] = "SKIP"
	delete(f, "symbol")
	delete(f, "qty")
	if p, err := plan.Parse(f); err != nil || p.Decision != plan.Skip {
		t.Errorf("a SKIP plan needs no order fields: %v", err)
	}
}

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		field, value string // value "-" deletes the field
	}{
		{"plan_id", "-"}, {"plan_id", "has space"}, {"plan_id", strings.Repeat("x", 129)},
		{"source", "-"}, {"source", "bad/source"},
		{"decision", "-"}, {"decision", "MAYBE"},
		{"timestamp", "-"}, {"timestamp", "now"}, {"timestamp", "NaN"}, {"timestamp", "17"},
		{"symbol", "-"}, {"symbol", "btcusdt"}, {"symbol", "BTC-USDT"},
		{"side", "-"}, {"side", "HOLD"},
		{"type", "STOP_MARKET"},
		{"qty", "-"}, {"qty", "-1"}, {"qty", "0"}, {"qty", "1e-30"}, {"qty", "0x10"}, {"qty", " 1"}, {"qty", "Inf"},
		{"price", "100"}, // a MARKET plan has no price
		{"reduceOnly", "yes"},
		{"leverage", "0.5"}, {"leverage", "0"},
		{"stop_loss", "-5"}, {"take_profit", "x"},
		{"canary", "sometimes"},
	}
	for _, tc := range cases {
		f := base()
		if tc.value == "-" {
			delete(f, tc.field)
		} else {
			f[tc.field] = tc.value
		}
		_, err := plan.Parse(f)
		if reason.CodeOf(err) != reason.PlanInvalid || !strings.Contains(err.Error(), "field "+tc.field) {
			t.Errorf("%s=%q: got %v, want PLAN_INVALID naming the field", tc.field, tc.value, err)
		}
	}
	f := base()
	f["type"] = "LIMIT"
	if _, err := plan.Parse(f); err == nil || !strings.Contains(err.Error(), "field price") {
		t.Errorf("a LIMIT plan without price: %v", err)
	}
}

// TestCanonicalVector pins the v1 plan encoding and signature that the
// Python of docs/producers.md (before v2) produced.
func TestCanonicalVector(t *testing.T) {
	f := map[string]string{"b": "2", "a": "x=1:y\n", "sig": "ignored"}
	if got, want := string(plan.CanonicalVersion(canon.V1, f)), "quantum-plan/v1\na=6:x=1:y\n\nb=1:2\n"; got != want {
		t.Fatalf("canonical %q, want %q", got, want)
	}
	// Computed with Python, as docs/producers.md signed v1:
	// hmac.new(b"k"*32, b"quantum-plan/v1\na=6:x=1:y\n\nb=1:2\n", hashlib.sha256).hexdigest()
	if got, want := plan.SignVersion(canon.V1, f, []byte(strings.Repeat("k", 32))), "1dc8c3318a3ab53c8cdda36f3ee93e979687353d340e058e523f6cbef9cb056f"; got != want {
		t.Fatalf("sig %s, want %s (Python's)", got, want)
	}
	if got, want := string(plan.Canonical(f)), "quantum-plan/v2\n1:a=6:x=1:y\n\n1:b=1:2\n"; got != want {
		t.Fatalf("v2 canonical %q, want %q", got, want)
	}
}

// goldenPlan is the plan of testdata/canonical_v*.golden.
func goldenPlan() (map[string]string, []byte) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	return map[string]string{
		"plan_id": "golden-1", "decision": "EXECUTE", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
		"qty": "0.015384615384615385", "reduceOnly": "True", "source": "exitbrain_v3_5", "timestamp": "1780000000.25",
		"leverage": "10.0", "action": "FULL_CLOSE_PROPOSED", "canary": "false",
	}, secret
}

// TestCanonicalGolden pins both encodings and sigs of a fixed plan
// (secret: bytes 0..31). Producers in other languages check against
// testdata/canonical_v*.golden; TestPythonSnippets runs docs/producers.md
// against the same plan. A change must be deliberate (-update).
func TestCanonicalGolden(t *testing.T) {
	f, secret := goldenPlan()
	for _, v := range []canon.Version{canon.V1, canon.V2} {
		got := string(plan.CanonicalVersion(v, f)) + "--\nsig=" + plan.SignVersion(v, f, secret) + "\n"
		golden := filepath.Join("testdata", "canonical_"+v.String()+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test ./plan -run Golden -update creates it)", err)
		}
		if got != string(want) {
			t.Errorf("%s encoding changed:\n got: %s\nwant: %s", v, got, want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	f := plan.SignFields(base(), secret)
	if !plan.Verify(f, f["sig"], secret) {
		t.Fatal("a signed plan does not verify")
	}
	if plan.Verify(f, f["sig"], []byte(strings.Repeat("t", 32))) {
		t.Fatal("verified with another secret")
	}
	ring := plan.NewSecrets(map[string][]byte{"intent_bridge": secret})
	if known, ok := ring.Verify("intent_bridge", f, f["sig"]); !known || !ok {
		t.Fatal("keyring verify failed")
	}
	if known, _ := ring.Verify("other", f, f["sig"]); known {
		t.Fatal("unknown source reported known")
	}
}

// TestTamperProperty: any change to any field of a signed plan, or an added
// field, makes its signature fail.
func TestTamperProperty(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	signed := plan.SignFields(base(), secret)
	names := make([]string, 0, len(signed))
	for k := range signed {
		if k != "sig" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	rapid.Check(t, func(rt *rapid.T) {
		f := make(map[string]string, len(signed)+1)
		for k, v := range signed {
			f[k] = v
		}
		if rapid.Bool().Draw(rt, "add") {
			f[rapid.StringMatching(`[a-z_]{1,12}`).Filter(func(s string) bool { _, ok := signed[s]; return !ok }).Draw(rt, "name")] = rapid.String().Draw(rt, "v")
		} else {
			name := rapid.SampledFrom(names).Draw(rt, "field")
			f[name] = rapid.String().Filter(func(s string) bool { return s != signed[name] }).Draw(rt, "value")
		}
		if plan.Verify(f, f["sig"], secret) {
			rt.Fatalf("tampered plan verified: %v", f)
		}
	})
}

func TestKeyring(t *testing.T) {
	good := strings.Repeat("ab", 32)
	ring, err := plan.ParseSecrets([]byte("# producers\n\nintent_bridge " + good + "\n  exitbrain_v3_5   " + good + "  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ring.Sources(); len(got) != 2 || got[0] != "exitbrain_v3_5" {
		t.Fatalf("sources %v", got)
	}
	for _, bad := range []string{
		"", "# only a comment\n", "intent_bridge\n", "intent_bridge " + good + " extra\n",
		"intent_bridge " + strings.Repeat("ab", 31) + "\n", "intent_bridge zz" + good[2:] + "\n",
		"bad/source " + good + "\n", "a " + good + "\na " + good + "\n",
		good + " intent_bridge\n", good + " " + good + "\n", good[:40] + " " + good + "\n", "x" + good[:40] + "! " + good + "\n",
	} {
		_, err := plan.ParseSecrets([]byte(bad))
		if err == nil {
			t.Errorf("keyring %q accepted", bad)
		} else if strings.Contains(err.Error(), good[:16]) {
			t.Errorf("an error message shows a secret: %v", err)
		}
	}
	line, err := plan.KeygenLine("harvest_brain")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := plan.LoadSecrets(path); err != nil || r.Sources()[0] != "harvest_brain" {
		t.Fatalf("load generated line: %v", err)
	}
	os.Chmod(path, 0o640)
	if _, err := plan.LoadSecrets(path); err == nil {
		t.Fatal("a group-readable keyring was accepted")
	}
	if _, err := plan.KeygenLine("no spaces allowed"); err == nil {
		t.Fatal("keygen accepted a bad source")
	}
}
