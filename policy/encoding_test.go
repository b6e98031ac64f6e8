package policy_test

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/reason"
)

var bothEncodings = canon.Of(canon.V1, canon.V2)

// fold returns fields with the adjacent fields a and b (a < b, nothing
// between them) folded into one field whose name is a's record and b's
// name: in v1 the encoding is byte for byte the same.
func fold(fields map[string]string, a, b string) map[string]string {
	out := maps.Clone(fields)
	junk := a + "=" + strconv.Itoa(len(fields[a])) + ":" + fields[a] + "\n" + b
	out[junk] = fields[b]
	delete(out, a)
	delete(out, b)
	return out
}

// TestFoldingAttackV1 reproduces issue 17's policy forgery: in v1 the
// notional cap and the order rate limit fold into one junk field name with
// the same bytes, so the signature stays valid while the caps vanish.
// v2's encoding differs, and every reader refuses the junk name before it
// hashes anything (POLICY_INVALID), whichever encodings it accepts.
func TestFoldingAttackV1(t *testing.T) {
	k := fixedKey()
	sp, err := policy.SignVersion(canon.V1, policytest.Sample(t0, 7), k)
	if err != nil {
		t.Fatal(err)
	}
	f := policytest.Fields(t, sp)
	folded := fold(f, policy.FieldMaxNotional, policy.FieldMaxOrdersPerMinute)
	if !bytes.Equal(policy.CanonicalVersion(canon.V1, f), policy.CanonicalVersion(canon.V1, folded)) {
		t.Fatal("fixture: the folded map does not share the v1 encoding; the attack is not reproduced")
	}
	if bytes.Equal(policy.CanonicalVersion(canon.V2, f), policy.CanonicalVersion(canon.V2, folded)) {
		t.Fatal("v2 encodes the folded map like the original")
	}
	for _, accept := range []canon.Versions{canon.DefaultVersions, bothEncodings} {
		ring := policy.NewTrustedKeys(k.Public()).WithEncodings(accept)
		if _, err := policy.Verify(f, ring, t0, time.Second); accept.Has(canon.V1) && err != nil {
			t.Fatalf("the genuine v1 policy is refused with v1 accepted: %v", err)
		}
		_, err := policy.Verify(folded, ring, t0, time.Second)
		if reason.CodeOf(err) != reason.PolicyInvalid || !strings.Contains(err.Error(), `field "max_notional_usdt_by_symbol=`) {
			t.Fatalf("accepting %s: folded policy: %v, want POLICY_INVALID naming the field", accept, err)
		}
	}
}

// decodeV2 parses a v2 encoding back into its header and fields; it fails
// on any byte that does not belong. That it exists and inverts Encode is
// the proof that v2 is injective.
func decodeV2(b []byte, header string) (map[string]string, bool) {
	if !bytes.HasPrefix(b, []byte(header)) {
		return nil, false
	}
	b = b[len(header):]
	out := map[string]string{}
	readLen := func(sep byte) (int, bool) {
		i := bytes.IndexByte(b, sep)
		if i <= 0 || i > 9 {
			return 0, false
		}
		n := 0
		for _, c := range b[:i] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = 10*n + int(c-'0')
		}
		b = b[i+1:]
		return n, true
	}
	prev := ""
	for len(b) > 0 {
		n, ok := readLen(':')
		if !ok || len(b) < n+1 || b[n] != '=' {
			return nil, false
		}
		name := string(b[:n])
		b = b[n+1:]
		m, ok := readLen(':')
		if !ok || len(b) < m+1 || b[m] != '\n' {
			return nil, false
		}
		if _, dup := out[name]; dup || (len(out) > 0 && name <= prev) {
			return nil, false
		}
		out[name], prev = string(b[:m]), name
		b = b[m+1:]
	}
	return out, true
}

// fieldMaps draws field maps from a small alphabet rich in the encoding's
// own separators, so that near-collisions are frequent.
func fieldMaps() *rapid.Generator[map[string]string] {
	s := rapid.StringOfN(rapid.SampledFrom([]rune("ab=:\n1")), 0, 6, -1)
	return rapid.MapOfN(s, s, 0, 5)
}

// TestCanonicalV2Injective: no two distinct field maps share a v2
// encoding, whatever bytes names and values hold (names outside the
// allowed shape included). Checked two ways: decoding inverts encoding,
// and two drawn maps (the second often a fold of the first) encode alike
// only when equal. 100 rapid trials each.
func TestCanonicalV2Injective(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		a := fieldMaps().Draw(rt, "a")
		for k := range a {
			if k == policy.FieldHash || k == policy.FieldSignature || k == policy.FieldKeyID || k == policy.FieldEncoding {
				delete(a, k)
			}
		}
		got, ok := decodeV2(policy.CanonicalVersion(canon.V2, a), policy.CanonicalHeaderV2)
		if !ok || !maps.Equal(got, a) {
			rt.Fatalf("decode(encode(%q)) = %q, %v", a, got, ok)
		}
		b := fieldMaps().Draw(rt, "b")
		if rapid.Bool().Draw(rt, "fold") && len(a) >= 2 {
			names := slices.Sorted(maps.Keys(a))
			i := rapid.IntRange(0, len(names)-2).Draw(rt, "i")
			b = fold(a, names[i], names[i+1])
		}
		if !maps.Equal(a, b) && bytes.Equal(policy.CanonicalVersion(canon.V2, a), policy.CanonicalVersion(canon.V2, b)) {
			rt.Fatalf("distinct maps %q and %q share a v2 encoding", a, b)
		}
	})
}

// TestVerifyEncodingCodes: the encoding, name, hex and closed-set rules,
// each with its code.
func TestVerifyEncodingCodes(t *testing.T) {
	k := fixedKey()
	v2only := policy.NewTrustedKeys(k.Public())
	both := v2only.WithEncodings(bothEncodings)
	good := func() map[string]string { return policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 5), k)) }
	v1 := func() map[string]string {
		sp, err := policy.SignVersion(canon.V1, policytest.Sample(t0, 5), k)
		if err != nil {
			t.Fatal(err)
		}
		return policytest.Fields(t, sp)
	}
	cases := []struct {
		name   string
		fields map[string]string
		ring   *policy.TrustedKeys
		want   reason.Code
		msg    string
	}{
		{"v2 by default", good(), v2only, "", ""},
		{"v1 refused by default", v1(), v2only, reason.PolicySignatureInvalid, "does not accept"},
		{"v1 accepted when configured", v1(), both, "", ""},
		{"v2 accepted alongside v1", good(), both, "", ""},
		{"v1 policy relabelled v2", func() map[string]string { f := v1(); f[policy.FieldEncoding] = "v2"; return f }(), both, reason.PolicyHashMismatch, ""},
		{"v2 policy relabelled v1", func() map[string]string { f := good(); delete(f, policy.FieldEncoding); return f }(), both, reason.PolicyHashMismatch, ""},
		{"unknown encoding", func() map[string]string { f := good(); f[policy.FieldEncoding] = "v3"; return f }(), both, reason.PolicySignatureInvalid, "policy_encoding"},
		{"upper-case signature", func() map[string]string {
			f := good()
			f[policy.FieldSignature] = strings.ToUpper(f[policy.FieldSignature])
			return f
		}(), v2only, reason.PolicySignatureInvalid, "lowercase"},
		{"upper-case hash", func() map[string]string {
			f := good()
			f[policy.FieldHash] = strings.ToUpper(f[policy.FieldHash])
			return f
		}(), v2only, reason.PolicyHashMismatch, ""},
		{"bad name, unsigned", func() map[string]string { f := good(); f["a b"] = "1"; return f }(), v2only, reason.PolicyInvalid, `field "a b"`},
		{"bad name, signed", policy.SignFields(func() map[string]string { f := good(); f["kill-params"] = "{}"; return f }(), k), v2only, reason.PolicyInvalid, `field "kill-params"`},
		{"long name", func() map[string]string { f := good(); f[strings.Repeat("n", 65)] = "1"; return f }(), v2only, reason.PolicyInvalid, "field"},
		{"unknown field, signed", policy.SignFields(func() map[string]string { f := good(); f["max_notional"] = "{}"; return f }(), k), v2only, reason.PolicyInvalid, "field max_notional is not a policy field"},
		{"unknown field, unsigned", func() map[string]string { f := good(); f["comment"] = "x"; return f }(), v2only, reason.PolicyHashMismatch, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Verify(tc.fields, tc.ring, t0, time.Second)
			if got := reason.CodeOf(err); got != tc.want {
				t.Fatalf("code %q, want %q (%v)", got, tc.want, err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestParseEncodings(t *testing.T) {
	for in, want := range map[string]string{"v2": "v2", "v1,v2": "v1,v2", "v2, v1": "v1,v2", "v1": "v1"} {
		got, err := canon.ParseVersions(in)
		if err != nil || got.String() != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "v3", "v2,v2", "V2", "v1;v2", ","} {
		if _, err := canon.ParseVersions(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if var0 := canon.Versions(0); var0.Has(canon.V1) || !var0.Has(canon.V2) {
		t.Error("the zero set must be v2 only")
	}
}
