package status

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/policy"
)

// WriteText writes the report as `quantum status` prints it: aligned text,
// one item per line, the attention items last.
func WriteText(w io.Writer, r *Report) error {
	tw := texttable.New(w)
	p := r.Policy
	if p.Present {
		fmt.Fprintf(tw, "policy\tversion %s  seq %d  state %s\n", p.Version, p.Seq, p.TradingState)
		fmt.Fprintf(tw, "\tage %s  remaining %s  signature %s\n", Seconds(p.AgeSec), Seconds(p.RemainingSec), p.Signature)
	} else {
		fmt.Fprintf(tw, "policy\tnone (%s)\n", p.Signature)
	}
	g := r.Group
	if g.Exists {
		fmt.Fprintf(tw, "apply layer\tgroup %s: pending %d  lag %s  plans in stream %d\n", DefaultGroup, g.Pending, lagText(g.Lag), g.PlanLen)
		for _, cs := range g.Consumers {
			fmt.Fprintf(tw, "\tconsumer %s: pending %d  idle %s\n", cs.Name, cs.Pending, (time.Duration(cs.IdleMs) * time.Millisecond).Truncate(time.Millisecond))
		}
		if len(g.Consumers) == 0 {
			fmt.Fprintf(tw, "\tno consumers\n")
		}
	} else {
		fmt.Fprintf(tw, "apply layer\tno group %s\n", DefaultGroup)
	}
	for _, fg := range r.ForeignGroups {
		live := "no live consumer"
		if fg.Live() {
			live = "LIVE: " + strings.Join(fg.LiveConsumers(), ", ")
		}
		fmt.Fprintf(tw, "foreign group	%s: %d consumer(s), pending %d, %s\n", fg.Name, len(fg.Consumers), fg.Pending, live)
	}
	res := r.Results
	fmt.Fprintf(tw, "results (%s)\t%d%s\n", Seconds(res.WindowSec), res.Total, Counts(res.ByDecision))
	fmt.Fprintf(tw, "denials\t%s\n", cmp.Or(strings.TrimPrefix(Counts(res.Denials), ": "), "none"))
	alerts := []string{}
	for _, a := range r.Alerts {
		alerts = append(alerts, fmt.Sprintf("%s %s %s %s since %s", a.Type, a.Status, a.Severity, a.AlertID, time.Unix(a.Timestamp, 0).UTC().Format(time.RFC3339)))
	}
	if len(alerts) == 0 {
		alerts = []string{"none"}
	}
	writeList(tw, "open alerts", alerts)
	wt := r.Watch
	switch {
	case !wt.Present:
		fmt.Fprintf(tw, "watch\tno heartbeat\n")
	default:
		fmt.Fprintf(tw, "watch\t%s: last ok %s ago, outcome %s%s\n", wt.Job, Seconds(wt.AgeSec), wt.Outcome, map[bool]string{true: " (STALE)"}[wt.Stale])
	}
	if r.LastProof == nil {
		fmt.Fprintf(tw, "last proof\tnone recorded\n")
	} else {
		fmt.Fprintf(tw, "last proof\t%s\n", proofVerdict(r.LastProof.ID, r.LastProof.Fields))
	}
	writeExposure(tw, r.Exposure)
	writeList(tw, "redis", r.Redis.Lines())
	if len(r.Attention) == 0 {
		fmt.Fprintf(tw, "attention\tnone: healthy\n")
	}
	writeList(tw, "ATTENTION", r.Attention)
	return tw.Flush()
}

// writeList writes items one a line, the first under label.
func writeList(tw io.Writer, label string, items []string) {
	for i, item := range items {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, item)
	}
}

// proofVerdict is the last proof run in one line: its verdict and counts,
// the failed tests, when it ran; the whole entry (tests and evidence) is in
// --json and `quantum proof ledger`.
func proofVerdict(id string, f map[string]string) string {
	s := fmt.Sprintf("%s %s", cmp.Or(f["proof"], "(unnamed)"), cmp.Or(f["result"], "(no result)"))
	for _, k := range []string{"passed", "failed", "skipped"} {
		if v := f[k]; v != "" {
			s += " " + k + "=" + v
		}
	}
	if ft := f["failed_tests"]; ft != "" {
		if len(ft) > 80 {
			ft = ft[:77] + "..."
		}
		s += " failed_tests=" + ft
	}
	if ts, err := strconv.ParseInt(f["timestamp"], 10, 64); err == nil {
		s += " at " + time.Unix(ts, 0).UTC().Format(time.RFC3339)
	}
	return s + " (entry " + id + ")"
}

// writeExposure writes the exposure lines, if any.
func writeExposure(tw *tabwriter.Writer, e *Exposure) {
	if e == nil {
		return
	}
	limit := func(field string) string { return cmp.Or(e.Limits[field], "none") }
	s := e.Snapshot
	if s == nil {
		fmt.Fprintf(tw, "exposure\tno entry decided under the limits yet (gross max %s, open max %s, daily loss max %s)\n",
			limit(policy.FieldMaxGrossExposure), limit(policy.FieldMaxOpenPositions), limit(policy.FieldMaxDailyLoss))
		return
	}
	var parts []string
	for _, sym := range slices.Sorted(maps.Keys(s.BySymbol)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", sym, s.BySymbol[sym]))
	}
	fmt.Fprintf(tw, "exposure\tas of %s ago (%s, deciding %s): %s\n", Seconds(e.AgeSec), s.Consumer, s.Symbol, cmp.Or(strings.Join(parts, ", "), "flat"))
	if caps := e.Limits[policy.FieldMaxPositionNotional]; caps != "" {
		fmt.Fprintf(tw, "\tposition caps %s\n", caps)
	}
	gross, open, pnl := "not read", "not read", "not read"
	if s.GrossRead {
		gross, open = fmt.Sprintf("%.2f", s.GrossUSDT), fmt.Sprint(s.Open)
	}
	if s.PnLRead {
		pnl = fmt.Sprintf("%.2f", s.DayPnLUSDT)
	}
	fmt.Fprintf(tw, "\tgross %s USDT (max %s)  open positions %s (max %s)  day PnL %s USDT (max loss %s)  reserved entries %d\n",
		gross, limit(policy.FieldMaxGrossExposure), open, limit(policy.FieldMaxOpenPositions), pnl, limit(policy.FieldMaxDailyLoss), e.Reserved)
}

// Seconds renders a count of seconds as a duration ("1m30s").
func Seconds(s int64) string { return (time.Duration(s) * time.Second).String() }

// lagText is a group's lag, or "unknown" when Redis could not tell (-1).
func lagText(l int64) string {
	if l < 0 {
		return "unknown"
	}
	return fmt.Sprint(l)
}

// Counts renders ": a 1, b 2" in name order, or "" for none.
func Counts(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return ": " + strings.Join(parts, ", ")
}
