package policy

import (
	"slices"
	"testing"
)

// TestUniverseOf: the list as written; nothing (never a default list) when
// the field is missing or not a JSON list.
func TestUniverseOf(t *testing.T) {
	if got := UniverseOf(map[string]string{FieldUniverseSymbols: `["BTCUSDT","ETHUSDT"]`}); !slices.Equal(got, []string{"BTCUSDT", "ETHUSDT"}) {
		t.Errorf("list: %v", got)
	}
	for _, f := range []map[string]string{{}, {FieldUniverseSymbols: "BTCUSDT"}, {FieldUniverseSymbols: `{"a":1}`}} {
		if got := UniverseOf(f); got != nil {
			t.Errorf("UniverseOf(%v) = %v, want nil", f, got)
		}
	}
}
