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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, EnvFile: defaultEnvFile,
	})
	stop()
	os.Exit(code)
}
