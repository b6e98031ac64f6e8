package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntentBridgeRoleRunsTheOldCalls loads deploy/redis/users.acl into a
// real redis-server and runs the old intent_bridge's Redis calls (python3,
// redis-py, testdata/legacy/intent_bridge_calls.py) as user
// quantum-intent-bridge: every call of its round succeeds (the intent
// stream and its group, the mode, the policy read, the seen and churn
// keys, the ledger, the plan XADD, its P3.3 permit), and what a producer
// must not do (a legacy HSET of the policy, a forged result, deleting the
// policy, a consumer group on the plan stream) answers NOPERM.
func TestIntentBridgeRoleRunsTheOldCalls(t *testing.T) {
	requirePython(t)
	url := aclServer(t)
	out, err := exec.Command(python3, filepath.Join("testdata", "legacy", "intent_bridge_calls.py"), url("quantum-intent-bridge")).CombinedOutput()
	if err != nil {
		t.Fatalf("intent_bridge_calls.py: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var c struct {
			Call  string `json:"call"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		n++
		forbidden := strings.HasPrefix(c.Call, "FORBIDDEN")
		switch {
		case forbidden && (c.OK || !strings.Contains(c.Error, "permission")):
			t.Errorf("%s: ok=%v %s, want a NOPERM refusal", c.Call, c.OK, c.Error)
		case !forbidden && !c.OK:
			t.Errorf("%s refused to intent_bridge's user: %s", c.Call, c.Error)
		}
	}
	if n != 22 {
		t.Fatalf("%d calls reported, want 22:\n%s", n, out)
	}
}
