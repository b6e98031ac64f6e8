package main

import (
	"context"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/policy"
)

// TestVerifyAndStatusReportRollback: an older, still validly signed ACTIVE
// policy restored over the operator's HALTED one (issue 17, attack 3) is
// POLICY_ROLLBACK in `policy verify` (exit 1) and in `status` (attention),
// from the audit trail. Before, both said the policy was OK.
func TestVerifyAndStatusReportRollback(t *testing.T) {
	pe := newPolicyEnv(t)
	ctx := context.Background()
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0, "policy_seq=1")
	active := pe.currentFields()
	halted := writeFile(t, pe.dir, "halted.json", strings.Replace(samplePolicy, `"ACTIVE"`, `"HALTED"`, 1))
	pe.run("policy", "publish", halted, "--key", pe.key).want(t, 0, "policy_seq=2")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")

	pe.rd.Client.Del(ctx, pe.rd.Keys.PolicyCurrent())
	pe.rd.Client.HSet(ctx, pe.rd.Keys.PolicyCurrent(), active)
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_ROLLBACK ", "policy_seq 2")
	r := pe.run("status", "--pubkey", pe.pub)
	r.want(t, 1, "POLICY_ROLLBACK")
	if strings.Contains(r.stdout, "signature ok") {
		t.Fatalf("status calls the rolled-back policy ok:\n%s", r.stdout)
	}
	// The way out: publish above it.
	pe.run("policy", "publish", halted, "--key", pe.key).want(t, 0, "policy_seq=3")
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")
}

// TestStatusPolicyKeyOfWrongType: a policy key that is a string (a legacy
// SET) is POLICY_PARSE_ERROR needing attention (exit 1), not "could not
// check" (exit 2), which it was before.
func TestStatusPolicyKeyOfWrongType(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.rd.Client.Set(context.Background(), pe.rd.Keys.PolicyCurrent(), `{"legacy":"json"}`, 0)
	r := pe.run("status", "--pubkey", pe.pub)
	r.want(t, 1, "POLICY_PARSE_ERROR", "not a hash")
	if strings.Contains(r.stdout+r.stderr, "could not check") {
		t.Fatalf("status could not check:\n%s%s", r.stdout, r.stderr)
	}
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_PARSE_ERROR ")
	// A publish replaces it.
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0, "policy_seq=1")
}

// TestVerifyPolicyEncodings: a live v1 policy is refused by default and
// accepted with QUANTUM_POLICY_ENCODINGS=v1,v2 (the upgrade window).
func TestVerifyPolicyEncodings(t *testing.T) {
	pe := newPolicyEnv(t)
	ctx := context.Background()
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0, "policy_seq=1")
	key, err := policy.LoadPrivateKey(pe.key)
	if err != nil {
		t.Fatal(err)
	}
	f := pe.currentFields()
	f[policy.FieldSeq] = "2" // as a v1 publisher would have published it
	v1 := policy.SignFieldsVersion(canon.V1, f, key)
	pe.rd.Client.Del(ctx, pe.rd.Keys.PolicyCurrent())
	pe.rd.Client.HSet(ctx, pe.rd.Keys.PolicyCurrent(), v1)
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, "POLICY_SIGNATURE_INVALID ", "quantum-policy/v1")
	pe.env[policy.EncodingsEnv] = "v1,v2"
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 0, "OK ")
	pe.run("status", "--pubkey", pe.pub).want(t, 1, "signature ok")
	pe.env[policy.EncodingsEnv] = "v3"
	pe.run("policy", "verify", "--pubkey", pe.pub).want(t, 1, policy.EncodingsEnv)
}
