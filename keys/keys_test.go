package keys_test

import (
	"testing"

	"github.com/quantumtrader/quantum/keys"
)

func TestNames(t *testing.T) {
	s := keys.MustNew(keys.DefaultPrefix)
	want := map[string]string{
		s.PolicyCurrent():                "quantum:policy:current",
		s.PolicyPublished():              "quantum:policy:published",
		s.PolicyUpdate():                 "quantum:stream:policy.update",
		s.PolicyAudit():                  "quantum:stream:policy.audit",
		s.ApplyPlan():                    "quantum:stream:apply.plan",
		s.ApplyResult():                  "quantum:stream:apply.result",
		s.Alerts():                       "quantum:stream:alerts",
		s.ProofRuns():                    "quantum:stream:proof.runs",
		s.Heartbeat("exit-owner-watch"):  "quantum:heartbeat:exit-owner-watch",
		s.ApplyRecord("p-1"):             "quantum:apply:plan:p-1",
		s.ApplyDone("1-0"):               "quantum:apply:done:1-0",
		s.ApplyRate(29000000):            "quantum:apply:rate:29000000",
		keys.ApplyGroup:                  "apply_layer",
		keys.JobWatchTimer:               "exit-owner-watch",
		keys.JobWatchFollow:              "exit-owner-follow",
		s.PolicyHighWater():              "quantum:apply:policy:highwater",
		s.PlanRecord("rogue", "p:1"):     "quantum:apply:record:rogue:p:1",
		s.ApplyShadow():                  "quantum:stream:apply.shadow",
		s.ShadowState().ApplyRecord("p"): "quantum:shadow:apply:plan:p",
		s.ApplyExposure():                "quantum:apply:exposure",
		s.ApplyExposureStatus():          "quantum:apply:exposure:status",
	}
	for got, w := range want {
		if got != w {
			t.Errorf("%s, want %s (SPEC.md names are fixed)", got, w)
		}
	}
	if got := keys.MustNew("proof-x").PolicyCurrent(); got != "proof-x:policy:current" {
		t.Errorf("prefix not applied: %s", got)
	}
}

func TestPrefixValidation(t *testing.T) {
	for _, bad := range []string{"", " quantum", "quan tum", "q*", "q?", "-q", "0123456789012345678901234567890123456789012345678901234567890123456789"} {
		if _, err := keys.New(bad); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
	for _, good := range []string{"quantum", "proof-1", "t42", "scratch:a.b_c", "{quantum}"} {
		if _, err := keys.New(good); err != nil {
			t.Errorf("prefix %q refused: %v", good, err)
		}
	}
}
