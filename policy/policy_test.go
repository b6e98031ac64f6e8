package policy_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/reason"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Unix(1_780_000_000, 0)

// A fixed key, so that the golden canonical encoding, hash and signature are
// stable: Ed25519 signatures are deterministic.
func fixedKey() *policy.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return policy.NewPrivateKey(ed25519.NewKeyFromSeed(seed))
}

// TestCanonicalGolden pins the canonical encodings, hashes and signatures
// of a known policy, v1 and v2. Producers in other languages check their
// implementation against testdata/canonical*.golden (TestPythonSnippets
// does, with the Python of docs/policy.md); a change here breaks every
// deployed reader, so it must be deliberate (go test -run Canonical -update).
func TestCanonicalGolden(t *testing.T) {
	for _, tc := range []struct {
		v    canon.Version
		file string
	}{{canon.V1, "canonical.golden"}, {canon.V2, "canonical_v2.golden"}} {
		sp, err := policy.SignVersion(tc.v, policytest.Sample(t0, 7), fixedKey())
		if err != nil {
			t.Fatal(err)
		}
		f := policytest.Fields(t, sp)
		got := string(policy.Canonical(f)) + "--\npolicy_hash=" + sp.Hash + "\nsignature=" + sp.Signature + "\nkey_id=" + sp.KeyID + "\n"
		golden := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./policy -run Canonical -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s encoding changed:\n got: %s\nwant: %s", tc.v, got, want)
		}
		ring := policy.NewTrustedKeys(fixedKey().Public()).WithEncodings(canon.Of(canon.V1, canon.V2))
		if _, err := policy.Verify(f, ring, t0, time.Second); err != nil {
			t.Errorf("%s golden policy does not verify: %v", tc.v, err)
		}
	}
}

func TestCanonicalIsUnambiguous(t *testing.T) {
	a := map[string]string{"a": "1\nb=1:2"}
	b := map[string]string{"a": "1", "b": "2"}
	if policy.Hash(a) == policy.Hash(b) {
		t.Fatal("a value holding a record separator hashes like two fields")
	}
	withSig := map[string]string{"a": "1", "policy_hash": "x", "signature": "y", "key_id": "z", "policy_encoding": "v2"}
	if policy.Hash(withSig) != policy.Hash(map[string]string{"a": "1", "policy_encoding": "v2"}) {
		t.Fatal("signature fields must not be covered by the hash")
	}
	if !strings.HasPrefix(string(policy.Canonical(withSig)), policy.CanonicalHeaderV2) {
		t.Fatal("v2 canonical encoding lacks its header")
	}
	if !strings.HasPrefix(string(policy.Canonical(a)), policy.CanonicalHeaderV1) {
		t.Fatal("a policy without policy_encoding is not encoded as v1")
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := policytest.Key(t)
	p := policytest.Sample(t0, 3)
	sp := policytest.Sign(t, p, k)
	got, err := policy.Verify(policytest.Fields(t, sp), policy.NewTrustedKeys(k.Public()), t0, time.Second)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got.Hash != sp.Hash || got.Seq != 3 || got.LeverageBySymbol["BTCUSDT"] != 15 ||
		got.MaxNotionalUSDTBySymbol["BTCUSDT"] != 5000 || got.MaxOrdersPerMinute != 30 ||
		got.TradingState != policy.StateActive || len(got.UniverseSymbols) != 3 {
		t.Fatalf("round trip lost content: %+v", got)
	}
}

// TestFieldsShapeForPythonReaders checks the six original fields keep the
// text shape the Python services parse with json.loads and float().
func TestFieldsShapeForPythonReaders(t *testing.T) {
	f, err := policytest.Sample(t0, 1).Fields()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"universe_symbols":   `["BTCUSDT","ETHUSDT","SOLUSDT"]`,
		"leverage_by_symbol": `{"BTCUSDT":15,"ETHUSDT":10,"SOLUSDT":6}`,
		"harvest_params":     `{"min_profit_pct":0.8,"trail_pct":0.35}`,
		"kill_params":        `{"max_daily_loss_usdt":250,"max_drawdown_pct":5}`,
		"valid_until_epoch":  "1780007200",
		"policy_version":     "1.0.0-test",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *policy.Policy)
		want   string // substring of the error; "" means valid
	}{
		{"sample", func(p *policy.Policy) {}, ""},
		{"empty universe", func(p *policy.Policy) { p.UniverseSymbols = nil }, "universe_symbols is empty"},
		{"lowercase symbol", func(p *policy.Policy) { p.UniverseSymbols[0] = "btcusdt" }, "does not match"},
		{"one-letter symbol", func(p *policy.Policy) { p.UniverseSymbols[0] = "B" }, "does not match"},
		{"duplicate symbol", func(p *policy.Policy) { p.UniverseSymbols[1] = "BTCUSDT" }, "listed twice"},
		{"no leverage", func(p *policy.Policy) { delete(p.LeverageBySymbol, "SOLUSDT") }, "SOLUSDT has no entry"},
		{"leverage 0", func(p *policy.Policy) { p.LeverageBySymbol["BTCUSDT"] = 0 }, "want 1..125"},
		{"leverage 126", func(p *policy.Policy) { p.LeverageBySymbol["BTCUSDT"] = 126 }, "want 1..125"},
		{"leverage 125", func(p *policy.Policy) { p.LeverageBySymbol["BTCUSDT"] = 125 }, ""},
		{"NaN param", func(p *policy.Policy) { p.HarvestParams["x"] = math.NaN() }, "not a finite number"},
		{"Inf param", func(p *policy.Policy) { p.KillParams["x"] = math.Inf(1) }, "not a finite number"},
		{"valid_until == issued_at", func(p *policy.Policy) { p.ValidUntil = p.IssuedAt }, "is not after"},
		{"bad state", func(p *policy.Policy) { p.TradingState = "OPEN" }, "trading_state"},
		{"empty state", func(p *policy.Policy) { p.TradingState = "" }, "trading_state"},
		{"seq 0", func(p *policy.Policy) { p.Seq = 0 }, "policy_seq is 0"},
		{"empty version", func(p *policy.Policy) { p.Version = "" }, "policy_version: empty"},
		{"empty generator", func(p *policy.Policy) { p.Generator = "" }, "generator: empty"},
		{"zero notional", func(p *policy.Policy) { p.MaxNotionalUSDTBySymbol["BTCUSDT"] = 0 }, "want a finite number > 0"},
		{"negative orders/min", func(p *policy.Policy) { p.MaxOrdersPerMinute = -1 }, "max_orders_per_minute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := policytest.Sample(t0, 1)
			tc.mutate(p)
			err := policy.Validate(p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if reason.CodeOf(err) != reason.PolicyInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want POLICY_INVALID containing %q, got %v", tc.want, err)
			}
			if _, err := policy.Sign(p, fixedKey()); reason.CodeOf(err) != reason.PolicyInvalid {
				t.Fatalf("Sign must refuse an invalid policy, got %v", err)
			}
		})
	}
}

// TestVerifyCodes checks every reason code Verify can give, in order.
func TestVerifyCodes(t *testing.T) {
	k := fixedKey()
	ring := policy.NewTrustedKeys(k.Public())
	good := func() map[string]string { return policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 5), k)) }
	resign := func(f map[string]string) map[string]string { return policy.SignFields(f, k) }
	other := policytest.Key(t)

	cases := []struct {
		name   string
		fields func() map[string]string
		now    time.Time
		want   reason.Code
	}{
		{"valid", good, t0, ""},
		{"missing", func() map[string]string { return map[string]string{} }, t0, reason.PolicyMissing},
		{"missing field", func() map[string]string { f := good(); delete(f, "kill_params"); return f }, t0, reason.PolicyMissingField},
		{"unsigned", func() map[string]string { f := good(); delete(f, "signature"); return f }, t0, reason.PolicyUnsigned},
		{"empty key_id", func() map[string]string { f := good(); f["key_id"] = ""; return f }, t0, reason.PolicyUnsigned},
		{"tampered leverage", func() map[string]string {
			f := good()
			f["leverage_by_symbol"] = `{"BTCUSDT":125,"ETHUSDT":10,"SOLUSDT":6}`
			return f
		}, t0, reason.PolicyHashMismatch},
		{"tampered and rehashed", func() map[string]string {
			f := good()
			f["trading_state"] = "ACTIVE "
			f["policy_hash"] = policy.Hash(f)
			return f
		}, t0, reason.PolicySignatureInvalid},
		{"unknown key", func() map[string]string { return policy.SignFields(good(), other) }, t0, reason.PolicySignatureInvalid},
		{"bad signature hex", func() map[string]string { f := good(); f["signature"] = "zz"; return f }, t0, reason.PolicySignatureInvalid},
		{"signature of other content", func() map[string]string {
			f := good()
			f["signature"] = hex.EncodeToString(make([]byte, 64))
			return f
		}, t0, reason.PolicySignatureInvalid},
		{"signed bad JSON", func() map[string]string { f := good(); f["universe_symbols"] = "[BTCUSDT"; return resign(f) }, t0, reason.PolicyParseError},
		{"signed bad epoch", func() map[string]string { f := good(); f["valid_until_epoch"] = "soon"; return resign(f) }, t0, reason.PolicyParseError},
		{"signed fractional leverage", func() map[string]string {
			f := good()
			f["leverage_by_symbol"] = `{"BTCUSDT":1.5,"ETHUSDT":10,"SOLUSDT":6}`
			return resign(f)
		}, t0, reason.PolicyParseError},
		{"signed invalid content", func() map[string]string { f := good(); f["trading_state"] = "YOLO"; return resign(f) }, t0, reason.PolicyInvalid},
		{"stale at valid_until", good, t0.Add(2 * time.Hour), reason.PolicyStale},
		{"fresh a second before", good, t0.Add(2*time.Hour - time.Second), ""},
		{"not yet valid", good, t0.Add(-time.Minute), reason.PolicyNotYetValid},
		{"within skew", good, t0.Add(-30 * time.Second), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := policy.Verify(tc.fields(), ring, tc.now, 30*time.Second)
			if got := reason.CodeOf(err); got != tc.want {
				t.Fatalf("code = %q, want %q (err: %v)", got, tc.want, err)
			}
			if tc.want == "" && sp == nil {
				t.Fatal("no policy returned")
			}
			if tc.want != "" && sp != nil {
				t.Fatal("a policy returned with an error")
			}
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k := policytest.Key(t)
	keyPath, pubPath, err := policy.WriteKeyPair(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(keyPath)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %o, want 600", st.Mode().Perm())
	}
	if _, _, err := policy.WriteKeyPair(dir, k); err == nil {
		t.Fatal("WriteKeyPair overwrote an existing key")
	}
	back, err := policy.LoadPrivateKey(keyPath)
	if err != nil || back.KeyID() != k.KeyID() {
		t.Fatalf("load key: %v (id %v want %v)", err, back, k.KeyID())
	}
	ring, err := policy.LoadTrustedKeys(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if ids := ring.IDs(); len(ids) != 1 || ids[0] != k.KeyID() {
		t.Fatalf("keyring ids %v, want [%s]", ids, k.KeyID())
	}

	if err := os.Chmod(keyPath, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.LoadPrivateKey(keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable key must be refused with a fix, got %v", err)
	}
	if err := os.Chmod(pubPath, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.LoadTrustedKeys(pubPath); err == nil {
		t.Fatal("a world-writable public key file must be refused")
	}
}

// TestKeyringRotation: two public key files (or both keys in one file), two
// trusted signers.
func TestKeyringRotation(t *testing.T) {
	dir := t.TempDir()
	oldK, newK := policytest.Key(t), policytest.Key(t)
	_, oldPub, err := policy.WriteKeyPair(filepath.Join(dir, "old"), oldK)
	if err != nil {
		t.Fatal(err)
	}
	_, newPub, err := policy.WriteKeyPair(filepath.Join(dir, "new"), newK)
	if err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(dir, "both.pub")
	a, _ := os.ReadFile(oldPub)
	b, _ := os.ReadFile(newPub)
	if err := os.WriteFile(both, append(a, b...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, paths := range [][]string{secretfile.SplitList(oldPub + ", " + newPub), {both}} {
		ring, err := policy.LoadTrustedKeys(paths...)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []*policy.PrivateKey{oldK, newK} {
			f := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 1), k))
			if _, err := policy.Verify(f, ring, t0, 0); err != nil {
				t.Errorf("%v: key %s not trusted: %v", paths, k.KeyID(), err)
			}
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := fixedKey()
	ring := policy.NewTrustedKeys(k.Public())
	sp, err := policy.Sign(policytest.Sample(t0, 1), k)
	if err != nil {
		b.Fatal(err)
	}
	f, _ := sp.Fields()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.Verify(f, ring, t0, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
