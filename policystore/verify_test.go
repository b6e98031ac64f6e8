package policystore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

func testSigned(now time.Time) *policy.Signed {
	return &policy.Signed{
		Policy: policy.Policy{Version: "1.0.0", Seq: 7, ValidUntil: now.Add(90 * time.Second).Unix(), TradingState: "NORMAL"},
		Hash:   "abc", KeyID: "k1",
	}
}

func TestVerificationOK(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	v := Verification{Policy: testSigned(now), Now: now, Alarm: 2 * time.Minute, ExpiryAlert: "fired"}
	var b strings.Builder
	if err := v.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "OK policy_version=1.0.0 policy_seq=7 policy_hash=abc key_id=k1 trading_state=NORMAL valid_until=2023-11-14T22:14:50Z remaining_sec=90\n"
	if b.String() != want {
		t.Fatalf("text %q, want %q", b.String(), want)
	}
	j := v.JSON()
	if j["ok"] != true || j["remaining_sec"] != int64(90) || j["expiring"] != true || j["expiry_alert"] != "fired" || v.Code() != "" {
		t.Fatalf("json %v, code %q", j, v.Code())
	}
	v.Alarm = time.Minute // 90s left, above the alarm
	if v.JSON()["expiring"] != false {
		t.Fatal("expiring with more left than the alarm")
	}
}

func TestVerificationRefused(t *testing.T) {
	cases := []struct {
		err        error
		code, text string
	}{
		{reason.Errorf(reason.PolicyStale, "valid_until passed"), "POLICY_STALE", "POLICY_STALE valid_until passed\n"},
		{errors.New("dial tcp: refused"), "POLICY_UNAVAILABLE", "POLICY_UNAVAILABLE dial tcp: refused\n"},
	}
	for _, tc := range cases {
		v := Verification{Err: tc.err}
		var b strings.Builder
		v.WriteText(&b)
		if string(v.Code()) != tc.code || b.String() != tc.text {
			t.Errorf("%v: code %q text %q, want %q %q", tc.err, v.Code(), b.String(), tc.code, tc.text)
		}
		if j := v.JSON(); j["ok"] != false || j["reason"] != reason.Code(tc.code) || j["error"] != tc.err.Error() {
			t.Errorf("json %v", j)
		}
	}
}

func TestPublishedOutput(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	sp := testSigned(now)
	var b strings.Builder
	WritePublished(&b, sp)
	if want := "published policy_version=1.0.0 policy_seq=7 policy_hash=abc valid_until=2023-11-14T22:14:50Z key_id=k1\n"; b.String() != want {
		t.Fatalf("text %q, want %q", b.String(), want)
	}
	if j := PublishedJSON(sp, "1-0"); j["published"] != true || j["audit_entry_id"] != "1-0" || j["policy_seq"] != uint64(7) {
		t.Fatalf("json %v", j)
	}
}

// TestLoadVerifiedFailsClosed: no trusted key is POLICY_KEY_UNAVAILABLE
// before any client is made; a client that cannot be made is
// POLICY_UNAVAILABLE.
func TestLoadVerifiedFailsClosed(t *testing.T) {
	ctx := context.Background()
	dialed := false
	dial := func() (redis.UniversalClient, error) { dialed = true; return nil, errors.New("dial refused") }
	if _, err := LoadVerified(ctx, dial, "", "", Options{}); reason.CodeOf(err) != reason.PolicyKeyUnavailable || dialed {
		t.Fatalf("no key: %v (dialed %v), want POLICY_KEY_UNAVAILABLE without a client", err, dialed)
	}
	k, err := policy.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, pub, err := policy.WriteKeyPair(t.TempDir(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadVerified(ctx, dial, pub, "", Options{}); reason.CodeOf(err) != reason.PolicyUnavailable || !dialed {
		t.Fatalf("no client: %v, want POLICY_UNAVAILABLE", err)
	}
}

func TestAuditOutputOfNone(t *testing.T) {
	if got := AuditJSON(nil); got == nil || len(got) != 0 {
		t.Fatalf("AuditJSON(nil) = %#v, want an empty slice", got)
	}
	var b strings.Builder
	WriteAuditOrNone(&b, "q:stream:policy.audit", nil)
	if b.String() != "no audit entries at q:stream:policy.audit\n" {
		t.Fatalf("%q", b.String())
	}
	b.Reset()
	WriteAuditOrNone(&b, "k", []AuditEntry{{Result: "published", Seq: "3"}})
	if !strings.HasPrefix(b.String(), "CREATED") || !strings.Contains(b.String(), "published") {
		t.Fatalf("%q", b.String())
	}
}
