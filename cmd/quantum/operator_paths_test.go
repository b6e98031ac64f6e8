package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestOneDenyNotExitOwnerLinePerDenial: operators count ownership denials
// with `journalctl -u quantum-apply-layer | grep -c DENY_NOT_EXIT_OWNER`
// (LEGACY.md), so each denial is one log line carrying the code: the SPEC
// line. Before the fix the "plan denied" line carried it too (twice the
// count).
func TestOneDenyNotExitOwnerLinePerDenial(t *testing.T) {
	ae := newApplyEnv(t)
	logs := runDaemon(t, ae.harness, ae.daemonArgs()...)
	waitFor(t, logs, "apply layer consuming")
	const n = 3
	for i := range n {
		ae.run("plan", "send", "--key-file", ae.keyFiles["rogue"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "1",
			"--reduce-only", "--plan-id", fmt.Sprintf("rogue-%d", i), "--wait", "10s").want(t, 1, "DENY_NOT_EXIT_OWNER")
	}
	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "1", "--wait", "10s").want(t, 0, "EXECUTED")
	count := strings.Count(logs.String(), "DENY_NOT_EXIT_OWNER")
	if count != n {
		t.Fatalf("%d log lines carry DENY_NOT_EXIT_OWNER for %d denials:\n%s", count, n, logs)
	}
	if c := strings.Count(logs.String(), "DENY_NOT_EXIT_OWNER symbol=SOLUSDT source=rogue plan_id=rogue-"); c != n {
		t.Fatalf("%d SPEC lines for %d denials:\n%s", c, n, logs)
	}
}
