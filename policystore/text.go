package policystore

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// WriteAudit writes audit entries as `quantum policy audit` prints them:
// one aligned row each under a header, times in RFC 3339 UTC.
func WriteAudit(w io.Writer, entries []AuditEntry) error {
	tw := texttable.New(w)
	fmt.Fprintln(tw, "CREATED\tRESULT\tSEQ\tVERSION\tVALID_UNTIL\tLEVERAGE\tSYMBOLS\tHASH\tACTOR\tREASON\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.12s\t%s\t%s\t%s\n", epochText(e.CreatedAt), e.Result, e.Seq,
			e.Version, epochText(e.ValidUntil), e.LeverageRange, e.UniverseCount, e.Hash, e.Actor, e.Reason, e.Detail)
	}
	return tw.Flush()
}

// epochText renders unix seconds as RFC 3339 UTC, or the text as it is.
func epochText(s string) string {
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(sec, 0).UTC().Format(time.RFC3339)
	}
	return s
}

// Verdict is `quantum policy show`'s verdict on the stored policy: the
// outcome of loading it with the trusted keys (checked false when none
// were configured).
type Verdict struct {
	Checked bool
	Policy  *policy.Signed // when it verified
	Err     error          // why it did not
	Now     time.Time
}

// JSON is the verdict as policy show --json prints it under "verified".
func (v Verdict) JSON() map[string]any {
	switch {
	case !v.Checked:
		return map[string]any{"checked": false}
	case v.Err != nil:
		return map[string]any{"checked": true, "ok": false, "reason": reason.CodeOf(v.Err), "error": v.Err.Error()}
	}
	return map[string]any{"checked": true, "ok": true, "key_id": v.Policy.KeyID, "remaining_sec": int64(v.remaining() / time.Second)}
}

// Text is the verdict's line.
func (v Verdict) Text() string {
	switch {
	case !v.Checked:
		return "not checked (no --pubkey or QUANTUM_POLICY_PUBKEY)"
	case v.Err != nil:
		return "NO: " + v.Err.Error()
	}
	return fmt.Sprintf("yes: signed by key_id %s, valid for %s more", v.Policy.KeyID, v.remaining())
}

func (v Verdict) remaining() time.Duration { return v.Policy.Remaining(v.Now).Truncate(time.Second) }

// WriteFields writes a stored policy as `quantum policy show` prints it:
// its key, every field (the six original ones first, then the rest in byte
// order; epoch fields with their RFC 3339 time), the verdict.
func WriteFields(w io.Writer, key string, fields map[string]string, v Verdict) error {
	tw := texttable.New(w)
	fmt.Fprintf(tw, "key\t%s\n", key)
	for _, name := range sortedFieldNames(fields) {
		val := fields[name]
		if name == policy.FieldValidUntil || name == policy.FieldIssuedAt {
			if sec, err := strconv.ParseInt(val, 10, 64); err == nil {
				val += "  (" + time.Unix(sec, 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, val)
	}
	fmt.Fprintf(tw, "verified\t%s\n", v.Text())
	return tw.Flush()
}

// sortedFieldNames lists the six original fields first, then the rest in
// byte order.
func sortedFieldNames(fields map[string]string) []string {
	first := []string{policy.FieldVersion, policy.FieldUniverseSymbols, policy.FieldLeverageBySymbol,
		policy.FieldHarvestParams, policy.FieldKillParams, policy.FieldValidUntil}
	out := make([]string, 0, len(fields))
	seen := map[string]bool{}
	for _, n := range first {
		if _, ok := fields[n]; ok {
			out = append(out, n)
			seen[n] = true
		}
	}
	rest := make([]string, 0, len(fields))
	for n := range fields {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// AuditJSON is the audit entries as `quantum policy audit --json` prints
// them: an empty array, never null, when there is none.
func AuditJSON(entries []AuditEntry) []AuditEntry {
	if entries == nil {
		return []AuditEntry{}
	}
	return entries
}

// WriteAuditOrNone is WriteAudit, or the line "no audit entries at KEY"
// when there is none.
func WriteAuditOrNone(w io.Writer, key string, entries []AuditEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintf(w, "no audit entries at %s\n", key)
		return err
	}
	return WriteAudit(w, entries)
}
