package watch

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
)

// TestReportSummary: the one line of a run says what was found and what
// the alert did, in each of the shapes an operator meets.
func TestReportSummary(t *testing.T) {
	next := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		r    Report
		want string
	}{
		{"clean", Report{Window: 5 * time.Minute, Scanned: 7, CanaryDenials: 2},
			Tag + " clean: no DENY_NOT_EXIT_OWNER in the last 5min (7 results scanned, 2 canary denials counted apart)"},
		{"clean, no stream, resolved", Report{Window: 90 * time.Second, StreamMissing: true, Alert: alert.Result{Outcome: alert.Resolved, AlertID: "a1", EntryID: "1-0"}},
			Tag + " clean: no DENY_NOT_EXIT_OWNER in the last 90s (0 results scanned, 0 canary denials counted apart); no result stream under this prefix; resolved alert published alert_id=a1 entry_id=1-0"},
		{"denials, held", Report{Window: 5 * time.Minute, Denials: 3, Sources: []string{"a", "b"}, Symbols: []string{"BTCUSDT"}, FirstPlanID: "p1", LastPlanID: "p3",
			Alert: alert.Result{Outcome: alert.Held, AlertID: "a2", Next: next}},
			Tag + " DENIALS: deny_count=3 window=5min sources=a,b symbols=BTCUSDT first_plan_id=p1 last_plan_id=p3 canary_deny_count=0; alert held back by the repeat interval: alert_id=a2 is firing and was notified already, next notification due 2026-01-02T03:04:05Z"},
		{"denials, fired", Report{Window: 5 * time.Minute, Denials: 1, Sources: []string{"a"}, Symbols: []string{"ETHUSDT"}, FirstPlanID: "p", LastPlanID: "p",
			Alert: alert.Result{Outcome: alert.Fired, AlertID: "a3", EntryID: "2-0"}},
			Tag + " DENIALS: deny_count=1 window=5min sources=a symbols=ETHUSDT first_plan_id=p last_plan_id=p canary_deny_count=0; alert published (fired) alert_id=a3 entry_id=2-0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Summary(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestReportJSON: an error turns the outcome into "error" (never clean),
// empty lists are [] not null, and next_notification is there only when
// the alert was held.
func TestReportJSON(t *testing.T) {
	r := &Report{Window: time.Minute, Checked: time.Unix(100, 0)}
	out := r.JSON(nil)
	if out["outcome"] != OutcomeClean || out["sources"] == nil || len(out["sources"].([]string)) != 0 || out["checked_at"] != int64(100) {
		t.Errorf("clean: %v", out)
	}
	if _, ok := out["next_notification"]; ok {
		t.Errorf("next_notification without a held alert: %v", out)
	}
	r.Denials, r.Alert = 2, alert.Result{Outcome: alert.Held, Next: time.Unix(200, 0)}
	out = r.JSON(errors.New("heartbeat not written"))
	if out["outcome"] != OutcomeError || out["error"] != "heartbeat not written" || out["next_notification"] != int64(200) || out["deny_count"] != int64(2) {
		t.Errorf("failed run: %v", out)
	}
}

// TestLegacyTestInput: the old script's variable refuses the run, naming
// the prefix it would have acted on; unset, nothing is refused.
func TestLegacyTestInput(t *testing.T) {
	env := map[string]string{}
	if msg := LegacyTestInput(func(k string) string { return env[k] }, "quantum"); msg != "" {
		t.Fatalf("refused without the variable: %s", msg)
	}
	env[LegacyTestInputVar] = "/tmp/lines.txt"
	msg := LegacyTestInput(func(k string) string { return env[k] }, "quantum-live")
	if !strings.Contains(msg, "EXIT_OWNER_WATCH_TEST_INPUT is set") || !strings.Contains(msg, "prefix quantum-live;") {
		t.Fatalf("refusal: %s", msg)
	}
}
