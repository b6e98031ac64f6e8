package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/migrate"
	"github.com/quantumtrader/quantum/policy"
)

func init() {
	register(&command{
		name:    "migrate check",
		summary: "read-only preflight of a move from the Python stack: every hazard, with the step that fixes it",
		help: `Reads, never writes, the live Redis and lists each hazard of moving the Python
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
		run: runMigrateCheck,
	})
	register(&command{
		name:    "migrate report",
		summary: "summarize a shadow period from quantum:stream:apply.shadow",
		help: `Reads the results a shadow apply layer (apply-layer --mode shadow) wrote to
quantum:stream:apply.shadow over the last --since and prints what enforcing
would have done: decisions, would-be denials by reason and source, unsigned
producers (AUTH_MISSING by source), would-be ownership violations
(DENY_NOT_EXIT_OWNER by source and symbol), would-be venue failures.

Exit status: 0 every shadowed plan would have executed or been skipped as
its producer asked; 1 some would have been denied or failed (the cut-over
is not ready); 2 could not read, or no shadow result in the period.`,
		run: runMigrateReport,
	})
}

func runMigrateCheck(ctx context.Context, c *invocation) int {
	asJSON := c.fs.Bool("json", false, "print the report as JSON")
	plans := c.fs.Int64("plans", migrate.DefaultPlanCount, "read the last `N` plans")
	exitOwner := c.fs.String("exit-owner", envOr(c.env.getenv, "QUANTUM_EXIT_OWNER", gate.DefaultExitOwner), "the `source` that may close (env QUANTUM_EXIT_OWNER)")
	breakGlass := c.fs.String("break-glass", c.env.getenv("QUANTUM_BREAK_GLASS"), "other `sources` that may close (env QUANTUM_BREAK_GLASS)")
	pubkeys := c.fs.String("pubkey", c.env.getenv("QUANTUM_POLICY_PUBKEY"), "trusted policy public key `FILES` (env QUANTUM_POLICY_PUBKEY): the signature is checked too")
	aclFile := c.fs.String("acl-file", "", "the users.acl `FILE` to be loaded: its users are compared with Redis's")
	within := c.fs.Duration("foreign-live-within", migrate.DefaultLiveWithin, "a consumer served within this `DURATION` is live")
	if code, ok := c.parse(0); !ok {
		return code
	}
	var trusted *policy.TrustedKeys
	if paths := secretfile.SplitList(*pubkeys); len(paths) > 0 {
		var err error
		if trusted, err = policy.LoadTrustedKeys(paths...); err != nil {
			fmt.Fprintf(c.env.stderr, "quantum migrate check: could not check: %v\n", err)
			return exitUsage
		}
	}
	rdb, err := c.redis()
	if err != nil {
		fmt.Fprintf(c.env.stderr, "quantum migrate check: could not check: %v\n", err)
		return exitUsage
	}
	defer rdb.Close()
	rep, err := migrate.Check(ctx, rdb, migrate.CheckOptions{
		Keys: c.keys(), ExitOwner: *exitOwner, BreakGlass: secretfile.SplitList(*breakGlass), PlanCount: *plans,
		LiveWithin: *within, Trusted: trusted, ACLFile: *aclFile, Now: c.env.clock(),
	})
	if err != nil {
		fmt.Fprintf(c.env.stderr, "quantum migrate check: could not check: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		writeJSON(c.env.stdout, rep)
	} else {
		tw := table(c.env.stdout)
		fmt.Fprintf(tw, "plans read\t%d (last %d of %s)\n", rep.PlansRead, *plans, c.keys().ApplyPlan())
		for _, p := range rep.Producers {
			fmt.Fprintf(tw, "producer\t%s: %d plans, %d signed, %d unsigned, %d closes\n", p.Source, p.Plans, p.Signed, p.Unsigned, p.Closes)
		}
		fmt.Fprintf(tw, "policy key\t%s\n", rep.PolicyType)
		if len(rep.UsersInUse) > 0 {
			fmt.Fprintf(tw, "redis users\tin use: %s (this check as %s)\n", strings.Join(rep.UsersInUse, ", "), cmpOr(rep.RedisUser, "?"))
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(tw, "%s\t%s: %s\n\t  fix: %s\n", strings.ToUpper(f.Severity), f.Check, f.Message, f.Step)
		}
		if rep.Ready {
			fmt.Fprintf(tw, "verdict\tREADY\n")
		} else {
			fmt.Fprintf(tw, "verdict\tNOT READY\n")
		}
		tw.Flush()
	}
	if !rep.Ready {
		return exitFail
	}
	return exitOK
}

func runMigrateReport(ctx context.Context, c *invocation) int {
	asJSON := c.fs.Bool("json", false, "print the summary as JSON")
	since := c.fs.Duration("since", 7*24*time.Hour, "summarize the last `DURATION` (0: everything)")
	if code, ok := c.parse(0); !ok {
		return code
	}
	rdb, err := c.redis()
	if err != nil {
		fmt.Fprintf(c.env.stderr, "quantum migrate report: %v\n", err)
		return exitUsage
	}
	defer rdb.Close()
	var from time.Time
	if *since > 0 {
		from = c.env.clock()().Add(-*since)
	}
	s, err := migrate.Summarize(ctx, rdb, c.keys(), from)
	if err != nil {
		fmt.Fprintf(c.env.stderr, "quantum migrate report: %v\n", err)
		return exitUsage
	}
	if s.Total == 0 {
		fmt.Fprintf(c.env.stderr, "quantum migrate report: no shadow result on %s in the period: is apply-layer --mode shadow running?\n", c.keys().ApplyShadow())
		return exitUsage
	}
	if *asJSON {
		writeJSON(c.env.stdout, s)
	} else {
		tw := table(c.env.stdout)
		fmt.Fprintf(tw, "shadowed plans\t%d (entries %s .. %s)\n", s.Total, s.FirstEntry, s.LastEntry)
		fmt.Fprintf(tw, "decisions\t%s\n", intCounts(s.ByDecision))
		for _, code := range slices.Sorted(maps.Keys(s.WouldDeny)) {
			fmt.Fprintf(tw, "would deny\t%s: %s\n", code, intCounts(s.WouldDeny[code]))
		}
		if len(s.Unsigned) > 0 {
			fmt.Fprintf(tw, "unsigned producers\t%s\n", intCounts(s.Unsigned))
		}
		for _, src := range slices.Sorted(maps.Keys(s.Ownership)) {
			fmt.Fprintf(tw, "ownership violations\t%s: %s\n", src, intCounts(s.Ownership[src]))
		}
		if len(s.Failed) > 0 {
			fmt.Fprintf(tw, "would fail\t%s\n", intCounts(s.Failed))
		}
		tw.Flush()
	}
	if len(s.WouldDeny) > 0 || len(s.Failed) > 0 {
		return exitFail
	}
	return exitOK
}

// intCounts renders "a 1, b 2" in name order.
func intCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
