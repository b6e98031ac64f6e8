package plan_test

import (
	"context"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestHostileEntriesThroughRedis sends each hostile plan to a real
// redis-server exactly as a producer would (XADD with the fields in the
// attacker's order, signed where a signature helps the attack), reads it
// back raw as the apply layer will (XRANGE, EntryPairs) and checks
// ParseEntry refuses it with PLAN_INVALID naming the field.
func TestHostileEntriesThroughRedis(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	stream := env.Keys.ApplyPlan()
	signed := func(edit func(map[string]string)) []string {
		f := base()
		edit(f)
		return pairs(plan.SignFields(f, secret))
	}
	folded := plan.SignFieldsVersion(canon.V1, func() map[string]string {
		f := base()
		f["action"], f["canary"] = "ENTRY_PROPOSED", "true"
		return f
	}(), secret)
	folded["action=14:ENTRY_PROPOSED\ncanary"] = folded["canary"]
	delete(folded, "action")
	delete(folded, "canary")
	cases := []struct {
		name, field string
		entry       []string
	}{
		// A human reading the entry sees reduceOnly=true first; a map keeps the last.
		{"repeated reduceOnly", "reduceOnly", append([]string{"reduceOnly", "true"}, signed(func(f map[string]string) { f["reduceOnly"] = "false" })...)},
		{"repeated sig", "sig", append(signed(func(map[string]string) {}), "sig", "v2:"+strings.Repeat("0", 64))},
		{"misspelt reduce_only", `"reduce_only"`, signed(func(f map[string]string) { f["reduce_only"] = "true" })},
		{"misspelt Canary", `"Canary"`, signed(func(f map[string]string) { f["Canary"] = "true" })},
		{"dash reduce-only", `"reduce-only"`, signed(func(f map[string]string) { f["reduce-only"] = "true" })},
		{"out-of-range exponent qty", "qty", signed(func(f map[string]string) { f["qty"] = "1e999" })},
		{"signed leverage", "leverage", signed(func(f map[string]string) { f["leverage"] = "+17" })},
		{"folded v1 fields", `"action=14:ENTRY_PROPOSED\ncanary"`, pairs(folded)},
	}
	for _, tc := range cases {
		values := make([]any, len(tc.entry))
		for i, v := range tc.entry {
			values[i] = v
		}
		if err := env.Client.Do(ctx, append([]any{"XADD", stream, "*"}, values...)...).Err(); err != nil {
			t.Fatalf("%s: XADD: %v", tc.name, err)
		}
	}
	raw, err := env.Client.Do(ctx, "XRANGE", stream, "-", "+").Slice()
	if err != nil || len(raw) != len(cases) {
		t.Fatalf("XRANGE: %v (%d entries)", err, len(raw))
	}
	for i, tc := range cases {
		_, p, err := plan.EntryPairs(raw[i])
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p) != len(tc.entry) {
			t.Fatalf("%s: Redis returned %d strings, sent %d", tc.name, len(p), len(tc.entry))
		}
		_, err = plan.ParseEntry(p)
		if reason.CodeOf(err) != reason.PlanInvalid || !strings.Contains(err.Error(), "field "+tc.field) {
			t.Errorf("%s: %v, want PLAN_INVALID naming field %s", tc.name, err, tc.field)
		}
	}
	if _, _, err := plan.EntryPairs("junk"); reason.CodeOf(err) != reason.PlanInvalid {
		t.Errorf("EntryPairs of junk: %v", err)
	}
}
