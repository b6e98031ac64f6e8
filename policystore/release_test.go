package policystore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// TestReleaseCheck: a caller's Check sees the stamped policy, and its
// refusal is returned as it is with nothing written.
func TestReleaseCheck(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	content, err := policy.ParseContent(strings.NewReader(policytest.ContentJSON))
	if err != nil {
		t.Fatal(err)
	}
	var seen *policy.Policy
	veto := errors.New("vetoed")
	_, _, err = f.store.SignAndPublish(ctx, content, f.key, policystore.Release{
		Validity: time.Hour, Generator: "test", Actor: "test",
		Check: func(p *policy.Policy) error { seen = p; return veto },
	})
	if !errors.Is(err, veto) {
		t.Fatalf("SignAndPublish with a vetoing Check: %v", err)
	}
	if seen == nil || seen.Seq != 1 || seen.IssuedAt != t0.Unix() || seen.ValidUntil != t0.Add(time.Hour).Unix() {
		t.Fatalf("Check saw %+v, want the stamped policy", seen)
	}
	if n, _ := f.env.Client.Exists(ctx, f.env.Keys.PolicyCurrent(), f.env.Keys.PolicyAudit()).Result(); n != 0 {
		t.Fatal("a vetoed release wrote to Redis")
	}
}

// TestRejectedAuditEntry: a rejected entry keeps its reason code apart from
// its detail, and reads back as written.
func TestRejectedAuditEntry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	id, err := f.store.AppendAudit(ctx, policystore.AuditEntry{
		Seq: "4", Actor: "refresh", Result: policystore.ResultRejected,
		Reason: string(reason.RefreshGeneratorTimeout), Detail: "generator did not finish within 1m0s: killed",
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Audit(ctx, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Audit: %v %v", got, err)
	}
	e := got[0]
	if e.ID != id || e.Result != "rejected" || e.Reason != "REFRESH_GENERATOR_TIMEOUT" || !strings.HasPrefix(e.Detail, "generator did not") ||
		e.CreatedAt != "1780000000" || e.Seq != "4" {
		t.Fatalf("entry %+v", e)
	}
}
