package watch

import (
	"fmt"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/alert"
)

// Summary is the one line a run prints (`quantum exit-owner watch`): what
// was found, and what the alert did.
func (r *Report) Summary() string {
	window := alert.FormatWindow(r.Window)
	var b strings.Builder
	b.WriteString(Tag + " ")
	if r.Denials == 0 {
		fmt.Fprintf(&b, "clean: no DENY_NOT_EXIT_OWNER in the last %s (%d results scanned, %d canary denials counted apart)",
			window, r.Scanned, r.CanaryDenials)
		if r.StreamMissing {
			b.WriteString("; no result stream under this prefix")
		}
		if r.Alert.Outcome == alert.Resolved {
			fmt.Fprintf(&b, "; resolved alert published alert_id=%s entry_id=%s", r.Alert.AlertID, r.Alert.EntryID)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "DENIALS: deny_count=%d window=%s sources=%s symbols=%s first_plan_id=%s last_plan_id=%s canary_deny_count=%d; ",
		r.Denials, window, strings.Join(r.Sources, ","), strings.Join(r.Symbols, ","), r.FirstPlanID, r.LastPlanID, r.CanaryDenials)
	switch r.Alert.Outcome {
	case alert.Held:
		fmt.Fprintf(&b, "alert held back by the repeat interval: alert_id=%s is firing and was notified already, next notification due %s",
			r.Alert.AlertID, r.Alert.Next.UTC().Format(time.RFC3339))
	default:
		fmt.Fprintf(&b, "alert published (%s) alert_id=%s entry_id=%s", r.Alert.Outcome, r.Alert.AlertID, r.Alert.EntryID)
	}
	return b.String()
}

// JSON is the object `quantum exit-owner watch --json` prints for a run
// that returned r and err: outcome "error" and the error when err is set.
func (r *Report) JSON(err error) map[string]any {
	out := map[string]any{
		"outcome": r.Outcome(), "deny_count": r.Denials, "canary_deny_count": r.CanaryDenials,
		"scanned": r.Scanned, "window": alert.FormatWindow(r.Window), "since_id": r.Since,
		"sources": nonNil(r.Sources), "symbols": nonNil(r.Symbols), "first_plan_id": r.FirstPlanID, "last_plan_id": r.LastPlanID,
		"stream_missing": r.StreamMissing, "alert": string(r.Alert.Outcome), "alert_id": r.Alert.AlertID,
		"alert_entry_id": r.Alert.EntryID, "checked_at": r.Checked.Unix(),
	}
	if r.Alert.Outcome == alert.Held {
		out["next_notification"] = r.Alert.Next.Unix()
	}
	if err != nil {
		out["outcome"], out["error"] = OutcomeError, err.Error()
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
