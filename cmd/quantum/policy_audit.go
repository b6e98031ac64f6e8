package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/policystore"
)

func init() {
	register(&command{
		name:    "policy audit",
		summary: "print the newest entries of the policy audit trail",
		help: `Reads quantum:stream:policy.audit, newest first: one line per publish
(result=published) or refused refresh (result=rejected, with its reason code).`,
		run: runPolicyAudit,
	})
}

func runPolicyAudit(ctx context.Context, c *invocation) int {
	count := c.fs.Int64("count", 20, "how many entries, newest first")
	asJSON := c.fs.Bool("json", false, "print as JSON")
	if code, ok := c.parse(0); !ok {
		return code
	}
	if *count < 1 {
		fmt.Fprintln(c.env.stderr, "quantum policy audit: --count must be at least 1")
		return exitUsage
	}
	store, closeStore, err := c.policyStore(nil, 0)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer closeStore()
	entries, err := store.Audit(ctx, *count)
	if err != nil {
		return c.errorf("%v", err)
	}
	if *asJSON {
		if entries == nil {
			entries = []policystore.AuditEntry{}
		}
		return writeJSON(c.env.stdout, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(c.env.stdout, "no audit entries at %s\n", c.keys().PolicyAudit())
		return exitOK
	}
	tw := table(c.env.stdout)
	fmt.Fprintln(tw, "CREATED\tRESULT\tSEQ\tVERSION\tVALID_UNTIL\tLEVERAGE\tSYMBOLS\tHASH\tACTOR\tREASON\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.12s\t%s\t%s\t%s\n", epochText(e.CreatedAt), e.Result, e.Seq,
			e.Version, epochText(e.ValidUntil), e.LeverageRange, e.UniverseCount, e.Hash, e.Actor, e.Reason, e.Detail)
	}
	tw.Flush()
	return exitOK
}

func parseEpoch(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// epochText renders unix seconds as RFC 3339 UTC, or the text as it is.
func epochText(s string) string {
	if sec, err := parseEpoch(s); err == nil {
		return time.Unix(sec, 0).UTC().Format(time.RFC3339)
	}
	return s
}
