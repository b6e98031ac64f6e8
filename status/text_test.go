package status_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/migrate"
	"github.com/quantumtrader/quantum/status"
)

// TestWriteText: every section of the report renders as its line, an
// empty section says so (no consumers, no alerts, no proof, "healthy"),
// the attention items are listed last, and the last proof's failed tests
// are cut at 80 characters. Runs of alignment spaces compare as one.
var spaces = regexp.MustCompile(" +")

func TestWriteText(t *testing.T) {
	r := &status.Report{
		Policy:        status.Policy{Present: true, Version: "v3", Seq: 3, TradingState: "NORMAL", AgeSec: 90, RemainingSec: 3600, Signature: "ok"},
		Group:         status.Group{Exists: true, Pending: 2, Lag: -1, PlanLen: 10},
		Results:       status.Results{WindowSec: 900, Total: 3, ByDecision: map[string]int64{"EXECUTE": 2, "DENY": 1}, Denials: map[string]int64{"DENY_STALE": 1}},
		Watch:         status.Heartbeat{Job: "watch-timer", Present: true, Outcome: "ok", AgeSec: 60, Stale: true},
		LastProof:     &status.Proof{ID: "1-0", Fields: map[string]string{"proof": "canary", "result": "FAIL", "failed": "1", "failed_tests": strings.Repeat("x", 100), "timestamp": "0"}},
		ForeignGroups: []migrate.Group{{Name: "intent_executor", Consumers: []migrate.Consumer{{Name: "executor-1", Live: true}}}},
		Attention:     []string{"first thing", "second thing"},
		Alerts:        []status.Alert{{Type: "POLICY_EXPIRING", Status: "firing", Severity: "critical", AlertID: "a1"}, {Type: "CLOCK_SKEW", Status: "firing", Severity: "warning", AlertID: "a2", Timestamp: 60}},
	}
	var b bytes.Buffer
	if err := status.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := spaces.ReplaceAllString(b.String(), " ")
	for _, want := range []string{
		"policy version v3 seq 3 state NORMAL\n age 1m30s remaining 1h0m0s signature ok\n",
		"apply layer group apply_layer: pending 2 lag unknown plans in stream 10\n no consumers\n",
		"foreign group intent_executor: 1 consumer(s), pending 0, LIVE: executor-1 (idle 0s)\n",
		"results (15m0s) 3: DENY 1, EXECUTE 2",
		"denials DENY_STALE 1\n",
		"open alerts POLICY_EXPIRING firing critical a1 since 1970-01-01T00:00:00Z\n CLOCK_SKEW firing warning a2 since 1970-01-01T00:01:00Z\n",
		"watch watch-timer: last ok 1m0s ago, outcome ok (STALE)\n",
		"last proof canary FAIL failed=1 failed_tests=" + strings.Repeat("x", 77) + "... at 1970-01-01T00:00:00Z (entry 1-0)\n",
		"ATTENTION first thing\n second thing\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "exposure") || strings.Contains(out, "healthy") {
		t.Errorf("exposure without limits, or healthy with attention items:\n%s", out)
	}

	b.Reset()
	if err := status.WriteText(&b, &status.Report{Policy: status.Policy{Signature: "not checked"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"policy none (not checked)\n", "apply layer no group apply_layer\n", "denials none\n", "open alerts none\n", "watch no heartbeat\n", "last proof none recorded\n", "attention none: healthy\n"} {
		if !strings.Contains(spaces.ReplaceAllString(b.String(), " "), want) {
			t.Errorf("empty report: missing %q in:\n%s", want, b.String())
		}
	}
}
