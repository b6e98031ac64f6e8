package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/quantumtrader/quantum/internal/buildinfo"
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
				cli.WriteJSON(c.Env.Stdout, v)
				return cli.ExitOK
			}
			fmt.Fprintln(c.Env.Stdout, v.String())
			return cli.ExitOK
		},
	})
}

// versionOf is the version of this build: the release of -X main.version.
func versionOf(bi *debug.BuildInfo) buildinfo.Info { return buildinfo.Of(version, bi) }
