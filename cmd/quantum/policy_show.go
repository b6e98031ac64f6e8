package main

import (
	"context"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
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
	fields, verdict, err := policystore.Show(ctx, c.Redis, *pubkeys, c.Env.Getenv(policy.EncodingsEnv), policystore.Options{Keys: c.Keys(), Now: c.Env.Clock(), ClockSkew: policystore.DefaultClockSkew})
	if err != nil {
		return c.Errorf("%v", err)
	}
	if *asJSON {
		return cli.WriteJSON(c.Env.Stdout, map[string]any{"key": c.Keys().PolicyCurrent(), "fields": fields, "verified": verdict.JSON()})
	}
	policystore.WriteFields(c.Env.Stdout, c.Keys().PolicyCurrent(), fields, verdict)
	return cli.ExitOK
}
