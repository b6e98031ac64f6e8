package main

import (
	"context"
	"io"
	"time"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/migrate"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "migrate check",
		Summary: "read-only preflight of a move from the Python stack: every hazard, with the step that fixes it",
		Help: `Reads, never writes, the live Redis and lists each hazard of moving the Python
stack onto the governance core, with the step of docs/migration.md that fixes
it:

  groups        other consumer groups on quantum:stream:apply.plan and whether
                they have live consumers (intent_executor places every plan)
  producers     the sources of the last --plans plans, signed or not, and
                plans with a side other than BUY/SELL (side=CLOSE)
  exits         closes (reduceOnly) from sources that are not --exit-owner or
                --break-glass
  policy        the key type of quantum:policy:current (a string from a legacy
                SET), unsigned or hash-mismatched fields (a writer that
                bypassed the publish; with --pubkey, the fields it changed,
                compared with quantum:policy:published), a live policy
                absent from the audit trail; the signature with --pubkey
  redis-users   the users connected (CLIENT LIST: the default user means the
                Python services) versus --acl-file (ACL USERS)
  redis-config  persistence and eviction (as the apply layer checks them)

A blocker makes the deployment not ready; a warning does not. --json prints
the whole report.

Exit status: 0 ready; 1 not ready; 2 could not check, and usage errors.`,
		Run: runMigrateCheck,
	})
	cli.Register(&cli.Command{
		Name:    "migrate report",
		Summary: "summarize a shadow period from quantum:stream:apply.shadow",
		Help: `Reads the results a shadow apply layer (apply-layer --mode shadow) wrote to
quantum:stream:apply.shadow over the last --since and prints what enforcing
would have done: decisions, would-be denials by reason and source, unsigned
producers (AUTH_MISSING by source), would-be ownership violations
(DENY_NOT_EXIT_OWNER by source and symbol), would-be venue failures.

Exit status: 0 every shadowed plan would have executed or been skipped as
its producer asked; 1 some would have been denied or failed (the cut-over
is not ready); 2 could not read, or no shadow result in the period.`,
		Run: runMigrateReport,
	})
}

func runMigrateCheck(ctx context.Context, c *cli.Invocation) int {
	asJSON := c.FS.Bool("json", false, "print the report as JSON")
	plans := c.FS.Int64("plans", migrate.DefaultPlanCount, "read the last `N` plans")
	exitOwner := c.FS.String("exit-owner", cli.EnvOr(c.Env.Getenv, "QUANTUM_EXIT_OWNER", gate.DefaultExitOwner), "the `source` that may close (env QUANTUM_EXIT_OWNER)")
	breakGlass := c.FS.String("break-glass", c.Env.Getenv("QUANTUM_BREAK_GLASS"), "other `sources` that may close (env QUANTUM_BREAK_GLASS)")
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted policy public key `FILES` (env QUANTUM_POLICY_PUBKEY): the signature is checked too")
	aclFile := c.FS.String("acl-file", "", "the users.acl `FILE` to be loaded: its users are compared with Redis's")
	within := c.FS.Duration("foreign-live-within", migrate.DefaultLiveWithin, "a consumer served within this `DURATION` is live")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	rep, err := policystore.WithTrusted(c.Redis, *pubkeys, "", func(trusted *policy.TrustedKeys, rdb cli.RedisClient) (*migrate.CheckReport, error) {
		return migrate.Check(ctx, rdb, migrate.CheckOptions{
			Keys: c.Keys(), ExitOwner: *exitOwner, BreakGlass: secretfile.SplitList(*breakGlass), PlanCount: *plans,
			LiveWithin: *within, Trusted: trusted, ACLFile: *aclFile, Now: c.Env.Clock(),
		})
	})
	if err != nil {
		return couldNotCheck(c, err)
	}
	return printReport(c, *asJSON, rep, func(w io.Writer) error { return rep.WriteText(w, *plans, c.Keys().ApplyPlan()) }, rep.Ready)
}

func runMigrateReport(ctx context.Context, c *cli.Invocation) int {
	asJSON := c.FS.Bool("json", false, "print the summary as JSON")
	since := c.FS.Duration("since", 7*24*time.Hour, "summarize the last `DURATION` (0: everything)")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	s, err := migrate.SummarizePeriod(ctx, c.Redis, c.Keys(), c.Env.Clock()(), *since)
	if err != nil {
		return configErr(c, err)
	}
	return printReport(c, *asJSON, s, s.WriteText, s.Ready())
}
