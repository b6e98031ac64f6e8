package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
		fmt.Fprintln(c.Env.Stderr, "quantum policy audit: --count must be at least 1")
		return cli.ExitUsage
	}
	store, closeStore, err := policyStore(c, nil, 0)
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer closeStore()
	entries, err := store.Audit(ctx, *count)
	if err != nil {
		return c.Errorf("%v", err)
	}
	if *asJSON {
		if entries == nil {
			entries = []policystore.AuditEntry{}
		}
		return writeJSON(c.Env.Stdout, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(c.Env.Stdout, "no audit entries at %s\n", c.Keys().PolicyAudit())
		return cli.ExitOK
	}
	tw := cli.Table(c.Env.Stdout)
	fmt.Fprintln(tw, "CREATED\tRESULT\tSEQ\tVERSION\tVALID_UNTIL\tLEVERAGE\tSYMBOLS\tHASH\tACTOR\tREASON\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.12s\t%s\t%s\t%s\n", epochText(e.CreatedAt), e.Result, e.Seq,
			e.Version, epochText(e.ValidUntil), e.LeverageRange, e.UniverseCount, e.Hash, e.Actor, e.Reason, e.Detail)
	}
	tw.Flush()
	return cli.ExitOK
}

func parseEpoch(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// epochText renders unix seconds as RFC 3339 UTC, or the text as it is.
func epochText(s string) string {
	if sec, err := parseEpoch(s); err == nil {
		return time.Unix(sec, 0).UTC().Format(time.RFC3339)
	}
	return s
}
