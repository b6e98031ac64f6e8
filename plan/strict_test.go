package plan_test

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

var secret = []byte(strings.Repeat("s", 32))

func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	if reason.CodeOf(err) != reason.PlanInvalid || !strings.Contains(err.Error(), "field "+field) {
		t.Errorf("%s: got %v, want PLAN_INVALID naming field %s", what, err, field)
	}
}

// pairs flattens fields in byte order of the names, as Redis would return
// an entry sent in that order.
func pairs(f map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		out = append(out, k, f[k])
	}
	return out
}

// TestFoldingAttackPlanV1 reproduces issue 17's plan forgery: a plan
// signed with action and canary=true, re-sent with the two folded into one
// junk field name, keeps its v1 bytes and its sig, and would run as a
// real order (no canary field). Parse refuses the name before the sig is
// checked, and the keyring refuses it even with v1 accepted.
func TestFoldingAttackPlanV1(t *testing.T) {
	f := base()
	f["action"], f["canary"] = "ENTRY_PROPOSED", "true"
	signed := plan.SignFieldsVersion(canon.V1, f, secret)
	folded := maps.Clone(signed)
	delete(folded, "action")
	delete(folded, "canary")
	folded["action=14:ENTRY_PROPOSED\ncanary"] = "true"
	if !bytes.Equal(plan.CanonicalVersion(canon.V1, signed), plan.CanonicalVersion(canon.V1, folded)) {
		t.Fatal("fixture: the fold does not keep the v1 bytes; the attack is not reproduced")
	}
	if bytes.Equal(plan.CanonicalVersion(canon.V2, signed), plan.CanonicalVersion(canon.V2, folded)) {
		t.Fatal("v2 encodes the folded plan like the original")
	}
	_, err := plan.Parse(folded)
	wantInvalid(t, "folded plan", err, strconv.Quote("action=14:ENTRY_PROPOSED\ncanary"))
	_, err = plan.ParseEntry(pairs(folded))
	wantInvalid(t, "folded entry", err, `"action=14:ENTRY_PROPOSED\ncanary"`)
	ring := plan.NewSecrets(map[string][]byte{"intent_bridge": secret}).WithEncodings(canon.Of(canon.V1, canon.V2))
	if _, ok := ring.Verify("intent_bridge", signed, signed["sig"]); !ok {
		t.Fatal("the genuine v1 plan does not verify with v1 accepted")
	}
	if _, ok := ring.Verify("intent_bridge", folded, folded["sig"]); ok {
		t.Fatal("the keyring verified a plan with a junk field name")
	}
}

// TestPlanCanonicalV2Injective: no two distinct plans share a v2 encoding
// (100 rapid trials: decoding inverts encoding; a drawn pair, often a fold
// of the first, encodes alike only when equal).
func TestPlanCanonicalV2Injective(t *testing.T) {
	str := rapid.StringOfN(rapid.SampledFrom([]rune("ab=:\n1")), 0, 6, -1)
	rapid.Check(t, func(rt *rapid.T) {
		a := rapid.MapOfN(str, str, 0, 5).Draw(rt, "a")
		delete(a, "sig")
		var b map[string]string
		if names := slices.Sorted(maps.Keys(a)); len(names) >= 2 && rapid.Bool().Draw(rt, "fold") {
			i := rapid.IntRange(0, len(names)-2).Draw(rt, "i")
			b = maps.Clone(a)
			x, y := names[i], names[i+1]
			b[x+"="+strconv.Itoa(len(a[x]))+":"+a[x]+"\n"+y] = a[y]
			delete(b, x)
			delete(b, y)
		} else {
			b = rapid.MapOfN(str, str, 0, 5).Draw(rt, "b")
			delete(b, "sig")
		}
		if !maps.Equal(a, b) && bytes.Equal(plan.Canonical(a), plan.Canonical(b)) {
			rt.Fatalf("distinct plans %q and %q share a v2 encoding", a, b)
		}
	})
}

func TestParseEntryRepeatedField(t *testing.T) {
	p := pairs(plan.SignFields(base(), secret))
	if _, err := plan.ParseEntry(p); err != nil {
		t.Fatalf("a plain entry: %v", err)
	}
	for _, dup := range []string{"reduceOnly", "qty", "sig", "source", "canary", "comment"} {
		extra := append(slices.Clone(p), dup, "true")
		if !slices.Contains(p, dup) {
			extra = append(extra, dup, "false")
		}
		_, err := plan.ParseEntry(extra)
		wantInvalid(t, "repeated "+dup, err, dup)
		if err != nil && !strings.Contains(err.Error(), "twice") {
			t.Errorf("repeated %s: %v does not say twice", dup, err)
		}
	}
	_, err := plan.ParseEntry(p[:len(p)-1])
	if reason.CodeOf(err) != reason.PlanInvalid {
		t.Errorf("odd pairs: %v", err)
	}
}

func TestParseMisspelledFields(t *testing.T) {
	for _, tc := range []struct{ name, known string }{
		{"reduce_only", "reduceOnly"}, {"ReduceOnly", "reduceOnly"}, {"reduceonly", "reduceOnly"}, {"REDUCEONLY", "reduceOnly"},
		{"Canary", "canary"}, {"CANARY", "canary"}, {"Source", "source"}, {"planId", "plan_id"}, {"planid", "plan_id"},
		{"PLAN_ID", "plan_id"}, {"Qty", "qty"}, {"stopLoss", "stop_loss"}, {"Sig", "sig"}, {"_sig", "sig"},
		{"Timestamp", "timestamp"}, {"Action", "action"}, {"Side", "side"}, {"take__profit", "take_profit"},
	} {
		f := base()
		f[tc.name] = "true"
		_, err := plan.Parse(f)
		wantInvalid(t, tc.name, err, strconv.Quote(tc.name))
		if err != nil && !strings.Contains(err.Error(), "spelt "+tc.known) {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.known)
		}
	}
	for _, name := range []string{"reduce-only", "reduce only", "plan.id", "", strings.Repeat("x", 65), "qty\n", "é"} {
		f := base()
		f[name] = "1"
		_, err := plan.Parse(f)
		wantInvalid(t, strconv.Quote(name), err, strconv.Quote(plan.Clip(name)))
	}
	f := base()
	f["comment"], f["strategy_tag"] = "free text is fine", "x"
	if _, err := plan.Parse(f); err != nil {
		t.Errorf("unknown but well-formed fields are allowed (the sig covers them): %v", err)
	}
}

func TestParseNumbersPlainDecimal(t *testing.T) {
	bad := map[string][]string{
		"qty": {"+17", "0x1p-2", "1_000", "1,5", ".5", "5.", "١", "0.0000000000000000001", "1e-19", "5e-324", "1e", "1e+", "1e-0005",
			"1e999", "-1e-05", "1e-05 ", "1.e-05", ".5e-05", "inf", "nan", "NaN", "0e-05", "0.0", "1e+20", "1e-05e1", "1e--05", "1e+-5", strings.Repeat("1", 65)},
		"price":       {"1.7e9", "+100", "1E2", "100_000"},
		"leverage":    {"1e1", "+10", "0x0a", "1_0", " 10", "0.5", "0", "1001", "99999999999999999999"},
		"timestamp":   {"1.7e9", "+1780000000", "1780000000e0", "0x6a1b", "1_780_000_000"},
		"stop_loss":   {"1e3", "-5", "+5", "inf", "NaN"},
		"take_profit": {"1e3", "0x10"},
	}
	for field, vals := range bad {
		for _, v := range vals {
			f := base()
			if field == "price" {
				f["type"] = "LIMIT"
			}
			f[field] = v
			_, err := plan.Parse(f)
			wantInvalid(t, field+"="+v, err, field)
			if err != nil && field != "qty" && strings.ContainsAny(v, "eE") && !strings.ContainsAny(v, "xX") && !strings.Contains(err.Error(), "without an exponent") {
				t.Errorf("%s=%s: %v does not say to format without an exponent", field, v, err)
			}
		}
	}
	// The shapes today's Python producers send (issue 13).
	good := map[string][]string{
		"qty": {"0.015384615384615385", "0.001", "12", "007", "1e-05", "1E-7", "1.5384615384615385e-05", "1.7e9", "1e3",
			"0.00012345678901234567", "1e+19", "1.0e-18"},
		"leverage":    {"10", "10.0", "10.00", "10.5", "1.9", "125"},
		"timestamp":   {"1780000000", "1780000000.1234567"},
		"stop_loss":   {"0", "61234.5"},
		"take_profit": {"70000"},
		"reduceOnly":  {"True", "true", "1", "0", "False", "false"},
	}
	for field, vals := range good {
		for _, v := range vals {
			f := base()
			f[field] = v
			if _, err := plan.Parse(f); err != nil {
				t.Errorf("%s=%s: %v", field, v, err)
			}
		}
	}
}

func TestSigLowercaseHexOnly(t *testing.T) {
	ring := plan.NewSecrets(map[string][]byte{"intent_bridge": secret})
	f := plan.SignFields(base(), secret)
	for name, sig := range map[string]string{
		"upper-case hex":    "v2:" + strings.ToUpper(strings.TrimPrefix(f["sig"], "v2:")),
		"upper-case prefix": "V2:" + strings.TrimPrefix(f["sig"], "v2:"),
		"v1 label on v2":    strings.TrimPrefix(f["sig"], "v2:"),
		"short":             f["sig"][:len(f["sig"])-2],
		"trailing space":    f["sig"] + " ",
	} {
		if _, ok := ring.Verify("intent_bridge", f, sig); ok {
			t.Errorf("%s verified", name)
		}
	}
	if _, ok := ring.Verify("intent_bridge", f, f["sig"]); !ok {
		t.Fatal("the genuine sig does not verify")
	}
	v1 := plan.SignFieldsVersion(canon.V1, base(), secret)
	if _, ok := ring.Verify("intent_bridge", v1, v1["sig"]); ok {
		t.Error("a v1 sig verified with the default (v2 only)")
	}
	if _, ok := ring.WithEncodings(canon.Of(canon.V1, canon.V2)).Verify("intent_bridge", v1, v1["sig"]); !ok {
		t.Error("a v1 sig does not verify with v1 accepted")
	}
	if _, ok := ring.WithEncodings(canon.Of(canon.V1)).Verify("intent_bridge", f, f["sig"]); ok {
		t.Error("a v2 sig verified with v1 only accepted")
	}
	if v1Upper := strings.ToUpper(v1["sig"]); true {
		if _, ok := ring.WithEncodings(canon.Of(canon.V1, canon.V2)).Verify("intent_bridge", v1, v1Upper); ok {
			t.Error("upper-case v1 sig verified")
		}
	}
}

func TestClipAndSafeLabel(t *testing.T) {
	long := strings.Repeat("é", 100)
	c := plan.Clip(long)
	if len(c) > plan.MaxEcho+3 || !strings.HasSuffix(c, "...") || !utf8Valid(c) {
		t.Errorf("Clip(%d bytes) = %d bytes %q", len(long), len(c), c)
	}
	if plan.Clip("short") != "short" {
		t.Error("Clip changed a short string")
	}
	for in, want := range map[string]string{
		"FULL_CLOSE_PROPOSED":           "FULL_CLOSE_PROPOSED",
		"x\" level=INFO msg=forged\nA=": "x??level?INFO?msg?forged?A?",
		"\x1b[31mred":                   "??31mred",
		strings.Repeat("A", 200):        strings.Repeat("A", 64) + "...",
	} {
		if got := plan.SafeLabel(in); got != want {
			t.Errorf("SafeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestPlainQty: the numbers Python writes, rewritten exactly as plain
// decimal, rounded down beyond the 18th place, never up; and the leverage
// rounded down to a whole number, with a flag for the dropped fraction.
func TestPlainQty(t *testing.T) {
	for in, want := range map[string]string{
		"1e-05":                         "0.00001",
		"1E-7":                          "0.0000001",
		"1.5e-05":                       "0.000015",
		"1.5384615384615385e-05":        "0.000015384615384615", // 21 places: the last 3 dropped (rounded down)
		"9.999999999999999e-05":         "0.000099999999999999", // 20 places: 2 dropped
		"1.2345678901234567e-10":        "0.000000000123456789", // 26 places: 8 dropped
		"0.00012345678901234567":        "0.000123456789012345",
		"1e+16":                         "10000000000000000",
		"1.7e9":                         "1700000000",
		"1e3":                           "1000",
		"1e0":                           "1",
		"0.0015e+3":                     "1.5",
		"12.50e-1":                      "1.25",
		"1e-18":                         "0.000000000000000001",
		"1.9e-18":                       "0.000000000000000001",
		"00001e-05":                     "0.00001",
		"0.0000000000000000019":         "0.000000000000000001",
		"123456789.1234567890123456789": "123456789.123456789012345678",
	} {
		got, err := plan.PlainQty(in)
		if err != nil || got != want {
			t.Errorf("PlainQty(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"1e-19", "9e-19", "0", "0e9", "1e+20", "99999999999999999999.5e1", "1e-1000", "e5", "1e", "+1", "-1", "1.", ".1", "1e1.5"} {
		if got, err := plan.PlainQty(in); reason.CodeOf(err) != reason.PlanInvalid || !strings.Contains(err.Error(), "field qty") {
			t.Errorf("PlainQty(%q) = %q, %v; want PLAN_INVALID naming qty", in, got, err)
		}
	}
	for in, want := range map[string]struct {
		lev  int
		frac bool
	}{"10": {10, false}, "10.0": {10, false}, "10.00": {10, false}, "10.5": {10, true}, "1.9": {1, true}, "010": {10, false}, "125.000000000000000001": {125, true}} {
		f := base()
		f["leverage"] = in
		p, err := plan.Parse(f)
		if err != nil || p.Leverage != want.lev || p.LeverageFrac != want.frac {
			t.Errorf("leverage %q: %+v, %v; want %d (fraction dropped %v)", in, p, err, want.lev, want.frac)
		}
	}
	f := base()
	f["qty"] = "1e-05"
	if p, err := plan.Parse(f); err != nil || p.QtyText != "0.00001" || p.Qty != 1e-05 || p.Fields["qty"] != "1e-05" {
		t.Errorf("qty 1e-05: %+v, %v; want QtyText 0.00001, the field as sent", p, err)
	}
	f["qty"] = "0.10000"
	if p, err := plan.Parse(f); err != nil || p.QtyText != "0.10000" {
		t.Errorf("a plain decimal is passed on as sent: %+v, %v", p, err)
	}
}
