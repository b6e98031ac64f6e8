package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/quantumtrader/quantum/internal/cli"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "version",
		Summary: "print the version: module version, VCS revision and Go version",
		Help: `Prints the release (set at build time with -ldflags "-X main.version=..."),
the module version and the VCS revision recorded by 'go build' in a git
checkout (with "+dirty" when the tree had local changes), and the Go version.
'go run' and test binaries record no revision: "unknown".`,
		Run: func(ctx context.Context, c *cli.Invocation) int {
			asJSON := c.FS.Bool("json", false, "print the version as JSON")
			if code, ok := c.Parse(0); !ok {
				return code
			}
			bi, _ := debug.ReadBuildInfo()
			v := versionOf(bi)
			if *asJSON {
				writeJSON(c.Env.Stdout, v)
				return cli.ExitOK
			}
			fmt.Fprintln(c.Env.Stdout, v.String())
			return cli.ExitOK
		},
	})
}

// versionInfo is what `quantum version` reports.
type versionInfo struct {
	Version   string `json:"version"`        // -X main.version, "dev" by default
	Module    string `json:"module"`         // module path
	ModuleVer string `json:"module_version"` // "(devel)" for a build from a checkout
	Revision  string `json:"vcs_revision"`   // "" when not recorded
	Time      string `json:"vcs_time,omitempty"`
	Modified  bool   `json:"vcs_modified"`
	Go        string `json:"go"`
}

func versionOf(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version()}
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

func (v versionInfo) String() string {
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
