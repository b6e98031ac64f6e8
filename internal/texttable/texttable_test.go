package texttable

import (
	"strings"
	"testing"
)

// TestNew: columns align on the widest cell, two spaces apart.
func TestNew(t *testing.T) {
	var b strings.Builder
	tw := New(&b)
	tw.Write([]byte("a\tbb\nccc\td\n"))
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "a    bb\nccc  d\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
