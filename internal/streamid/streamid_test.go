package streamid

import (
	"testing"

	"pgregory.net/rapid"
)

func TestParseAndOrder(t *testing.T) {
	for _, bad := range []string{"", "1", "1-", "-1", "a-1", "1-b", "1-2-3", "+", "-"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	a, _ := Parse("9-0")
	b, _ := Parse("10-0")
	if !a.Less(b) || b.Less(a) || a.Less(a) {
		t.Fatal("9-0 must order before 10-0 (numbers, not text)")
	}
	rapid.Check(t, func(t *rapid.T) {
		x := ID{rapid.Uint64().Draw(t, "ms"), rapid.Uint64().Draw(t, "seq")}
		y, err := Parse(x.String())
		if err != nil || y != x {
			t.Fatalf("round trip of %v: %v, %v", x, y, err)
		}
	})
}
