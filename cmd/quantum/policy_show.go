package main

import (
	"context"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy show",
		Summary: "print the live policy's fields and whether it verifies",
		Help: `Prints every field of quantum:policy:current as stored. When trusted public keys
are configured (--pubkey or QUANTUM_POLICY_PUBKEY) it also verifies the policy
and prints the verdict; without them it says the signature was not checked.

Exit status: 0 when a policy is stored (verified or not), 1 when none is or
Redis cannot be read.`,
		Run: runPolicyShow,
	})
}

func runPolicyShow(ctx context.Context, c *cli.Invocation) int {
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	asJSON := c.FS.Bool("json", false, "print as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	store, closeStore, err := policyStore(c, nil, 0)
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer closeStore()
	fields, err := store.Raw(ctx)
	if err != nil {
		return c.Errorf("%v", err)
	}
	if len(fields) == 0 {
		return c.Errorf("%s: no policy at %s", reason.PolicyMissing, c.Keys().PolicyCurrent())
	}
	verdict := policystore.Verdict{Checked: len(secretfile.SplitList(*pubkeys)) > 0}
	if verdict.Checked {
		verdict.Policy, verdict.Err = loadVerified(ctx, c, *pubkeys, policystore.DefaultClockSkew)
		verdict.Now = c.Env.Clock()()
	}
	if *asJSON {
		return writeJSON(c.Env.Stdout, map[string]any{"key": c.Keys().PolicyCurrent(), "fields": fields, "verified": verdict.JSON()})
	}
	policystore.WriteFields(c.Env.Stdout, c.Keys().PolicyCurrent(), fields, verdict)
	return cli.ExitOK
}
