package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// python3 is the interpreter of the legacy readers' harnesses: Debian's,
// with python3-redis (the library the Python services use).
const python3 = "/usr/bin/python3"

// requirePython fails (never skips) when python3 or redis-py is missing.
func requirePython(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python3, "-c", "import redis").CombinedOutput(); err != nil {
		t.Fatalf("python3 with redis-py is needed: apt-get install python3 python3-redis (%v: %s)", err, out)
	}
}

// runReader runs one harness of testdata/legacy against stream and returns
// its JSON lines by plan_id.
func runReader(t *testing.T, script, sock, stream string) map[string]map[string]any {
	t.Helper()
	cmd := exec.Command(python3, filepath.Join("testdata", "legacy", script), sock, stream)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s", script, err, stderr)
	}
	got := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s printed %q: %v", script, sc.Text(), err)
		}
		got[fmt.Sprint(m["plan_id"])] = m
	}
	return got
}

// TestLegacyReadersUnderstandResults feeds the results of a real apply
// layer on a real redis-server (an entry, the exit owner's reduce-only
// close, a rogue close denied, a producer SKIP, an order the venue
// rejects) to the four Python readers that stay (LEGACY.md), each
// reproduced with its own parsing logic in testdata/legacy and run by
// python3 with redis-py: the governor frees a slot on the executed close
// only; trade_history_logger sees that close as the one closure;
// exit_monitor_service tracks both executed fills from the details JSON
// (side, qty, FILLED) and skips the rest; decision_intelligence maps
// every decision, DENIED as UNKNOWN:DENIED exactly as it did for the old
// apply layer's denials, with the reason code from error.
func TestLegacyReadersUnderstandResults(t *testing.T) {
	requirePython(t)
	ae := newApplyEnv(t)
	logs := runDaemon(t, ae.harness, ae.daemonArgs()...)
	waitFor(t, logs, "apply layer consuming")
	send := func(src string, code int, args ...string) {
		t.Helper()
		ae.run(append([]string{"plan", "send", "--key-file", ae.keyFiles[src], "--wait", "10s"}, args...)...).want(t, code)
	}
	send("intent_bridge", 0, "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "2", "--plan-id", "lg-entry")
	send("exitbrain_v3_5", 0, "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "2", "--reduce-only", "--plan-id", "lg-close", "--action", "FULL_CLOSE_PROPOSED")
	send("rogue", 1, "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "1", "--reduce-only", "--plan-id", "lg-rogue")
	send("intent_bridge", 0, "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "1", "--decision", "SKIP", "--plan-id", "lg-skip")
	send("intent_bridge", 1, "--symbol", "ETHUSDT", "--side", "BUY", "--qty", "1", "--plan-id", "lg-failed") // no paper price: -1121

	sock, stream := ae.rd.Server.Socket(), ae.rd.Keys.ApplyResult()
	gov := runReader(t, "governor.py", sock, stream)
	thl := runReader(t, "trade_history_logger.py", sock, stream)
	em := runReader(t, "exit_monitor.py", sock, stream)
	di := runReader(t, "decision_intelligence.py", sock, stream)
	ids := []string{"lg-entry", "lg-close", "lg-rogue", "lg-skip", "lg-failed"}
	for _, r := range []map[string]map[string]any{gov, thl, em, di} {
		if len(r) != len(ids) {
			t.Fatalf("a reader saw %d results, want %d: %v", len(r), len(ids), r)
		}
	}
	for _, id := range ids {
		if want := id == "lg-close"; gov[id]["released"] != want {
			t.Errorf("governor on %s: released=%v, want %v", id, gov[id]["released"], want)
		}
		if want := id == "lg-close"; thl[id]["closure"] != want {
			t.Errorf("trade_history_logger on %s: closure=%v, want %v", id, thl[id]["closure"], want)
		}
		wantTracked := id == "lg-entry" || id == "lg-close"
		if em[id]["tracked"] != wantTracked {
			t.Errorf("exit_monitor on %s: %v, want tracked=%v", id, em[id], wantTracked)
		}
	}
	if e := em["lg-entry"]; e["side"] != "BUY" || e["qty"] != "2" || e["status"] != "FILLED" || e["symbol"] != "SOLUSDT" {
		t.Errorf("exit_monitor extracted %v from the entry", e)
	}
	if e := em["lg-close"]; e["side"] != "SELL" || e["qty"] != "2" {
		t.Errorf("exit_monitor extracted %v from the close", e)
	}
	wantDI := map[string]string{
		"lg-entry": "EXECUTE/none", "lg-close": "EXECUTE/none", "lg-rogue": "UNKNOWN:DENIED/DENY_NOT_EXIT_OWNER",
		"lg-skip": "SKIP/none", "lg-failed": "ERROR/EXCHANGE_REJECTED",
	}
	for id, w := range wantDI {
		if got := fmt.Sprintf("%v/%v", di[id]["decision"], di[id]["reason"]); got != w {
			t.Errorf("decision_intelligence on %s: %s, want %s", id, got, w)
		}
	}
	// The governor's group acknowledged everything it read.
	p, err := ae.rd.Client.XPending(context.Background(), stream, "governor_result_monitor").Result()
	if err != nil || p.Count != 0 {
		t.Errorf("governor group pending %v (%v)", p, err)
	}
}
