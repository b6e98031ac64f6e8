package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestOf: a clean revision prints without "+dirty" and without a time it
// has not got; no build info at all still names the release and the
// running Go, and says the revision is unknown.
func TestOf(t *testing.T) {
	v := Of("v1.4.0", &debug.BuildInfo{Main: debug.Module{Path: "example.com/q", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}})
	if got, want := v.String(), "quantum v1.4.0\nmodule   example.com/q@(devel)\nrevision abc123\ngo       "+runtime.Version(); got != want {
		t.Fatalf("clean build:\n%s\nwant:\n%s", got, want)
	}
	none := Of("dev", nil).String()
	for _, want := range []string{"quantum dev\n", "module   unknown\n", "revision unknown (no VCS information", "go       " + runtime.Version()} {
		if !strings.Contains(none, want) {
			t.Errorf("no build info: %q lacks %q", none, want)
		}
	}
}
