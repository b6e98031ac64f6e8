package producer

import (
	"errors"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/plan"
)

// TestReceivedWriteText: one aligned line per result field, in byte order
// of the names.
func TestReceivedWriteText(t *testing.T) {
	var b strings.Builder
	Received{Result: plan.Result{PlanID: "p1", Decision: plan.Executed}}.WriteText(&b)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("output %q", b.String())
	}
	for i := 1; i < len(lines); i++ {
		if lines[i-1] >= lines[i] {
			t.Errorf("lines out of order: %q before %q", lines[i-1], lines[i])
		}
	}
	if !strings.Contains(b.String(), "plan_id") || !strings.Contains(b.String(), "p1") {
		t.Errorf("output %q lacks the plan_id", b.String())
	}
}

// TestUnconfirmedIs: the replica and result shortfalls are ErrUnconfirmed
// (exit 3) and say what was missing, in their own words.
func TestUnconfirmedIs(t *testing.T) {
	err := error(&unconfirmed{"sent plan_id=x but no result"})
	if !errors.Is(err, ErrUnconfirmed) || err.Error() != "sent plan_id=x but no result" {
		t.Errorf("unconfirmed: %v", err)
	}
	if errors.Is(ErrNegativeReplicas, ErrUnconfirmed) {
		t.Error("a refused send taken for a sent one")
	}
}
