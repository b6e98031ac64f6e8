package migrate

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/quantumtrader/quantum/internal/texttable"
)

// WriteText writes the preflight as `quantum migrate check` prints it: what
// was read (planCount asked of stream), the producers, each finding with
// its fix, the verdict.
func (r *CheckReport) WriteText(w io.Writer, planCount int64, stream string) error {
	tw := texttable.New(w)
	fmt.Fprintf(tw, "plans read\t%d (last %d of %s)\n", r.PlansRead, planCount, stream)
	for _, p := range r.Producers {
		fmt.Fprintf(tw, "producer\t%s: %d plans, %d signed, %d unsigned, %d closes\n", p.Source, p.Plans, p.Signed, p.Unsigned, p.Closes)
	}
	fmt.Fprintf(tw, "policy key\t%s\n", r.PolicyType)
	if len(r.UsersInUse) > 0 {
		fmt.Fprintf(tw, "redis users\tin use: %s (this check as %s)\n", strings.Join(r.UsersInUse, ", "), cmp.Or(r.RedisUser, "?"))
	}
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s: %s\n\t  fix: %s\n", strings.ToUpper(f.Severity), f.Check, f.Message, f.Step)
	}
	if r.Ready {
		fmt.Fprintf(tw, "verdict\tREADY\n")
	} else {
		fmt.Fprintf(tw, "verdict\tNOT READY\n")
	}
	return tw.Flush()
}

// WriteText writes the summary as `quantum migrate report` prints it.
func (s *ShadowSummary) WriteText(w io.Writer) error {
	tw := texttable.New(w)
	fmt.Fprintf(tw, "shadowed plans\t%d (entries %s .. %s)\n", s.Total, s.FirstEntry, s.LastEntry)
	fmt.Fprintf(tw, "decisions\t%s\n", counts(s.ByDecision))
	for _, code := range slices.Sorted(maps.Keys(s.WouldDeny)) {
		fmt.Fprintf(tw, "would deny\t%s: %s\n", code, counts(s.WouldDeny[code]))
	}
	if len(s.Unsigned) > 0 {
		fmt.Fprintf(tw, "unsigned producers\t%s\n", counts(s.Unsigned))
	}
	for _, src := range slices.Sorted(maps.Keys(s.Ownership)) {
		fmt.Fprintf(tw, "ownership violations\t%s: %s\n", src, counts(s.Ownership[src]))
	}
	if len(s.Failed) > 0 {
		fmt.Fprintf(tw, "would fail\t%s\n", counts(s.Failed))
	}
	return tw.Flush()
}

// counts renders "a 1, b 2" in name order.
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
