// Command quantum is the Quantum Trader governance core: the signed policy
// store, the apply layer, the periodic jobs and the proofs, as one binary
// with subcommands (`quantum help` lists them).
//
// This package holds flags and wiring only; the logic lives in the domain
// packages, so tests run every command in-process through run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/quantumtrader/quantum/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], &cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, EnvFile: cli.DefaultEnvFile,
	})
	stop()
	os.Exit(code)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
