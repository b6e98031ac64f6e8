package main

import (
	"testing"
	"time"
)

// TestRefreshClockSkew is the case through the command: a
// publisher 105 minutes behind used to publish a policy with 15 minutes
// left and report success. Now: exit 2, REFRESH_CLOCK_SKEW, nothing
// published, CLOCK_SKEW on the alert stream; in step again, it publishes.
func TestRefreshClockSkew(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.now = func() time.Time { return time.Now().Add(-105 * time.Minute) }
	args := []string{"policy", "refresh", "--template", pe.policyFile, "--key", pe.key, "--pubkey", pe.pub}
	pe.run(args...).want(t, 2, "REFRESH_CLOCK_SKEW", "behind Redis TIME", "15m0s of validity")
	pe.now = nil
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_MISSING")
	var skew []string
	for _, a := range pe.alerts() {
		if a["alert_type"] == "CLOCK_SKEW" {
			skew = append(skew, a["status"]+"/"+a["severity"])
		}
	}
	if len(skew) != 1 || skew[0] != "firing/critical" {
		t.Fatalf("CLOCK_SKEW alerts %v", skew)
	}
	pe.run(args...).want(t, 0, "policy_seq=1")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")
}
