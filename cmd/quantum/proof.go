package main

import (
	"context"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/proof"
	"github.com/quantumtrader/quantum/refresh"
)

const proofHelp = `Runs behavioural proofs against the live deployment found through the
environment (the units' EnvironmentFile): QUANTUM_REDIS_URL, QUANTUM_PREFIX,
QUANTUM_POLICY_PUBKEY (the trusted policy keys), QUANTUM_PROOF_KEY_FILE (the
keyring line of source quantum_proof, which the apply layer's keyring must list;
it signs canary plans), QUANTUM_EXIT_OWNER, QUANTUM_POLICY_REFRESH_INTERVAL.

A proof never changes what production relies on: it works in scratch namespaces
(a random prefix proof-scratch-* on the same Redis, deleted afterwards by SCAN
of that prefix only, with keys generated for the run), sends canary plans
(canary=true: every gate runs, nothing reaches a venue) to the live apply layer,
and reads live keys read-only. The canaries, their results and the ledger entry
are all it adds to production streams. Each proof's run is appended to
quantum:stream:proof.runs ('quantum proof ledger' shows it).

--format text prints one PASS/FAIL/SKIP line per test with its evidence, then
"N passed, N failed, N skipped"; tap, junit and json are for CI and machines.

Exit status: 0 when no test failed (SKIP is not FAIL), 1 otherwise, 2 for usage
errors. Guide: docs/proofs.md.`

func init() {
	cli.Register(&cli.Command{Name: "proof list", Summary: "list the proofs and their tests", Run: runProofList})
	cli.Register(&cli.Command{Name: "proof run", Args: "NAME...", Summary: "run the named proofs against the live deployment and record them in the ledger",
		Help: proofHelp, Run: func(ctx context.Context, c *cli.Invocation) int { return runProofs(ctx, c, false) }})
	cli.Register(&cli.Command{Name: "proof all", Summary: "run every proof against the live deployment and record them in the ledger",
		Help: proofHelp, Run: func(ctx context.Context, c *cli.Invocation) int { return runProofs(ctx, c, true) }})
	cli.Register(&cli.Command{Name: "proof ledger", Summary: "print the proofs ledger (Markdown) or the newest runs from quantum:stream:proof.runs",
		Help: `Without --count, renders the ledger in Markdown: each proof's script, purpose,
tests and the status of its newest run. --count N lists the newest N runs of any
proof instead; --json prints them as JSON (the stream's field names).`,
		Run: runProofLedger})
}

func runProofList(ctx context.Context, c *cli.Invocation) int {
	asJSON := c.FS.Bool("json", false, "print as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *asJSON {
		return cli.WriteJSON(c.Env.Stdout, proof.List())
	}
	proof.WriteList(c.Env.Stdout)
	return cli.ExitOK
}

func runProofs(ctx context.Context, c *cli.Invocation, all bool) int {
	ef := cli.NewEnvFlags(c)
	pubkeys := ef.String("pubkey", "QUANTUM_POLICY_PUBKEY", "trusted policy public key `FILES`, comma-separated")
	proofKey := ef.String("proof-key", "QUANTUM_PROOF_KEY_FILE", "`FILE` holding the keyring line of source quantum_proof (mode 0600), which signs canary plans")
	timeout := ef.Duration("timeout", "QUANTUM_PROOF_TIMEOUT", 10*time.Second, "how long to wait for a canary's result from the apply layer")
	interval := ef.Duration("refresh-interval", "QUANTUM_POLICY_REFRESH_INTERVAL", refresh.DefaultInterval, "the refresh timer's period, for the audit trail's expected count")
	owner := c.FS.String("exit-owner", cli.EnvOr(c.Env.Getenv, "QUANTUM_EXIT_OWNER", gate.DefaultExitOwner), "the apply layer's exit owner (env QUANTUM_EXIT_OWNER)")
	loadResultKey := resultKeyFlag(c)
	format := c.FS.String("format", "text", "output `format`: text, tap, junit or json")
	nargs := -1
	if all {
		nargs = 0
	}
	if code, ok := ef.Parse(nargs); !ok {
		return code
	}
	if err := proof.CheckRun(*format, *timeout, *interval); err != nil {
		return c.UsageErr("%v", err)
	}
	proofs, err := proof.Select(all, c.Args)
	if err != nil {
		return c.UsageErr("%v", err)
	}
	rdb, err := c.Redis()
	if err != nil {
		return c.UsageErr("%v", err)
	}
	defer rdb.Close()
	resultKey, err := loadResultKey()
	if err != nil {
		return c.UsageErr("%v", err)
	}
	cfg := proof.Config{Redis: rdb, Keys: c.Keys(), ExitOwner: *owner, CanaryTimeout: *timeout, ResultKey: resultKey,
		RefreshInterval: *interval, Now: c.Env.Clock(), Log: c.Logger()}
	cfg.LoadKeys(*pubkeys, *proofKey)
	reports, ok := proof.RunAll(ctx, cfg, proofs, proof.ThisRun(version), func(err error) {
		fmt.Fprintf(c.Env.Stderr, "quantum %s: ledger: %v\n", c.Cmd.Name, err)
	})
	proof.WriteReports(c.Env.Stdout, *format, reports)
	if !ok {
		return cli.ExitFail
	}
	return cli.ExitOK
}

func runProofLedger(ctx context.Context, c *cli.Invocation) int {
	count := c.FS.Int("count", 0, "list the newest `N` runs instead of the Markdown ledger")
	asJSON := c.FS.Bool("json", false, "print the newest runs (--count, default 20) as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *count < 0 {
		fmt.Fprintf(c.Env.Stderr, "quantum proof ledger: --count %d: want N > 0\n", *count)
		return cli.ExitUsage
	}
	return c.WithRedis(false, func(rdb cli.RedisClient) int {
		entries, err := proof.LedgerEntries(ctx, rdb, c.Keys(), int64(*count), *asJSON)
		if err != nil {
			return c.Errorf("%v", err)
		}
		if *asJSON {
			return cli.WriteJSON(c.Env.Stdout, entries)
		}
		proof.WriteLedger(c.Env.Stdout, c.Keys(), entries, *count == 0)
		return cli.ExitOK
	})
}
