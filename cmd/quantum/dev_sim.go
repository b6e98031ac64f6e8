package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/status"
)

// devSummary is the live one-screen summary of quantum dev.
type devSummary struct {
	rdb     redis.UniversalClient
	store   *policystore.Store
	venue   *paper.Venue
	ring    *policy.TrustedKeys
	now     func() time.Time
	started time.Time
}

// render writes one summary block.
func (d *devSummary) render(ctx context.Context, w io.Writer) error {
	now := d.now()
	window := max(now.Sub(d.started)+time.Minute, time.Minute)
	rep, err := status.Collect(ctx, d.rdb, status.Options{Keys: d.store.Keys(), Keyring: d.ring, Now: d.now, Window: min(window, status.DefaultWindow), AllowUnsafeRedis: true})
	if err != nil {
		return err
	}
	positions, err := d.venue.Positions(ctx)
	if err != nil {
		return err
	}
	tw := cli.Table(w)
	fmt.Fprintf(tw, "=== quantum dev summary %s\n", now.UTC().Format("15:04:05"))
	fmt.Fprintf(tw, "verdict\t%s\n", verdictLine(ctx, d.store, now))
	p := rep.Policy
	fmt.Fprintf(tw, "policy\tseq %d  age %s  remaining %s  signature %s\n", p.Seq, secs(p.AgeSec), secs(p.RemainingSec), p.Signature)
	fmt.Fprintf(tw, "plans\t%d%s\n", rep.Results.Total, counts(rep.Results.ByDecision))
	fmt.Fprintf(tw, "denials\t%s\n", cmpOr(strings.TrimPrefix(counts(rep.Results.Denials), ": "), "none"))
	if len(rep.Alerts) == 0 {
		fmt.Fprintf(tw, "alerts\tnone firing\n")
	}
	for i, a := range rep.Alerts {
		label := map[bool]string{true: "alerts"}[i == 0]
		fmt.Fprintf(tw, "%s\t%s %s %s deny_count=%s\n", label, a.Type, a.Status, a.AlertID, a.Fields["deny_count"])
	}
	var ps []string
	for _, q := range positions {
		if q.Amount != "0" {
			ps = append(ps, q.Symbol+" "+q.Amount)
		}
	}
	fmt.Fprintf(tw, "positions\t%s\n", cmpOr(strings.Join(ps, ", "), "flat"))
	fmt.Fprintf(tw, "apply layer\t%d consumer(s), %d plan(s) pending\n", len(rep.Group.Consumers), rep.Group.Pending)
	fmt.Fprintln(tw, "===")
	return tw.Flush()
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
