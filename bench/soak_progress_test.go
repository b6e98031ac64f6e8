package bench

import (
	"strings"
	"testing"
)

// TestProgressTo: one line per sample, with its time, counts and memory.
func TestProgressTo(t *testing.T) {
	var b strings.Builder
	p := ProgressTo(&b)
	p(Sample{AtSec: 12.4, Plans: 3, Results: 2, UsedMemory: 1024})
	p(Sample{AtSec: 13, Plans: 4})
	want := "t=12s plans=3 results=2 used_memory=1024\nt=13s plans=4 results=0 used_memory=0\n"
	if b.String() != want {
		t.Errorf("progress %q, want %q", b.String(), want)
	}
}
