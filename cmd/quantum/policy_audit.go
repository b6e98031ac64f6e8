package main

import (
	"context"
	"errors"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policystore"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy audit",
		Summary: "print the newest entries of the policy audit trail",
		Help: `Reads quantum:stream:policy.audit, newest first: one line per publish
(result=published) or refused refresh (result=rejected, with its reason code).`,
		Run: runPolicyAudit,
	})
}

func runPolicyAudit(ctx context.Context, c *cli.Invocation) int {
	count := c.FS.Int64("count", 20, "how many entries, newest first")
	asJSON := c.FS.Bool("json", false, "print as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *count < 1 {
		return configErr(c, errors.New("--count must be at least 1"))
	}
	entries, err := policystore.ReadAudit(ctx, c.Redis, policystore.Options{Keys: c.Keys(), Now: c.Env.Clock()}, *count)
	if err != nil {
		return c.Errorf("%v", err)
	}
	if *asJSON {
		return cli.WriteJSON(c.Env.Stdout, policystore.AuditJSON(entries))
	}
	policystore.WriteAuditOrNone(c.Env.Stdout, c.Keys().PolicyAudit(), entries)
	return cli.ExitOK
}
