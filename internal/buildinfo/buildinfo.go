// Package buildinfo says which build of quantum is running: the release
// set at link time, the module and VCS revision that 'go build' records in
// a git checkout, and the Go version (`quantum version`).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info is what `quantum version` reports; the JSON is its --json.
type Info struct {
	Version   string `json:"version"`        // the release (-X main.version), "dev" by default
	Module    string `json:"module"`         // module path
	ModuleVer string `json:"module_version"` // "(devel)" for a build from a checkout
	Revision  string `json:"vcs_revision"`   // "" when not recorded
	Time      string `json:"vcs_time,omitempty"`
	Modified  bool   `json:"vcs_modified"`
	Go        string `json:"go"`
}

// Of reads bi (nil: nothing recorded) for the release.
func Of(release string, bi *debug.BuildInfo) Info {
	v := Info{Version: release, Go: runtime.Version()}
	if bi == nil {
		return v
	}
	v.Module, v.ModuleVer = bi.Main.Path, bi.Main.Version
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the version as four aligned lines: release, module, revision
// ("+dirty" for local changes; "unknown" when not recorded), Go.
func (v Info) String() string {
	rev := "unknown (no VCS information: build with 'go build' in a git checkout)"
	if v.Revision != "" {
		rev = v.Revision
		if v.Modified {
			rev += "+dirty"
		}
		if v.Time != "" {
			rev += " (" + v.Time + ")"
		}
	}
	mod := v.Module
	if mod == "" {
		mod = "unknown"
	}
	if v.ModuleVer != "" {
		mod += "@" + v.ModuleVer
	}
	return fmt.Sprintf("quantum %s\nmodule   %s\nrevision %s\ngo       %s", v.Version, mod, rev, v.Go)
}
