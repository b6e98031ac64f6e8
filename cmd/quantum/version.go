package main

import (
	"context"
	"fmt"
	"runtime"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the version",
		run: func(ctx context.Context, c *invocation) int {
			if code, ok := c.parse(0); !ok {
				return code
			}
			fmt.Fprintf(c.env.stdout, "quantum %s (%s)\n", version, runtime.Version())
			return exitOK
		},
	})
}
