package main

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/internal/cli"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "dev",
		Summary: "run the system in one process on an embedded Redis, for a first look",
		Help: `Starts an embedded Redis-protocol server (miniredis) on 127.0.0.1:--port with
throwaway keys, creates a throwaway signing key, publishes the embedded default
policy, and runs the whole system in this process until Ctrl-C: the apply layer
(consumer "dev") on the paper venue, the policy refresh, the exit-owner watch,
and a traffic simulator.

The simulator sends --rate plans per second, each signed with its source's
throwaway key (written to the temporary directory for 'quantum plan send'):
intent_bridge opens positions, exitbrain_v3_5 closes them, and rogue_service
tries a reduceOnly close, an opposite-side close, a plan claiming
source=exitbrain_v3_5 signed with its own key, and an unsigned plan: every
one of those is denied, and the watch raises EXIT_OWNER_VIOLATION.

A summary (plans by decision, denials by reason, alerts firing, policy seq and
age, positions) is redrawn every --summary-interval in a terminal; when stdout
is not a terminal it is printed as a block every --summary-interval, and the
live policy is checked every --check-interval the way the apply layer does, a
line printed whenever the verdict changes.

An in-process refresh loop (the same code as 'quantum policy refresh' under
its timer) publishes the default policy again every --refresh-interval, so
the policy stays fresh and 'quantum policy audit' grows; a tampered policy is
replaced at the next refresh. --refresh-interval 0 turns the loop off.

An in-process exit-owner watch (the same code as 'quantum exit-owner watch'
under its timer) counts DENY_NOT_EXIT_OWNER results of the last 5 minutes
every --watch-interval, raises EXIT_OWNER_VIOLATION on the alert stream and
records its heartbeat. --watch-interval 0 turns it off.

Try tampering with it from another terminal (one-shot redis-cli commands work;
redis-cli's interactive mode does not, with miniredis):

  redis-cli -p 6379 HSET quantum:policy:current trading_state HALTED

and watch the verdict turn to POLICY_HASH_MISMATCH: nothing substitutes a
default. With --redis URL given on the command line, a real Redis is used
instead, under the prefix quantum-dev unless --prefix is given: the
QUANTUM_REDIS_URL variable is ignored here, so a production setting in your
shell never points the demo at production. Its keys stay under that prefix
after exit (the header says how to remove them); nothing outside the prefix
is written.

In a terminal, the header (key paths and commands to try, each working as
typed from the repository's root) stays on top of every redraw.`,
		Run: runDev,
	})
}

func runDev(ctx context.Context, c *cli.Invocation) int {
	port := c.FS.Int("port", 6379, "port of the embedded Redis on 127.0.0.1 (0: any free port)")
	validity := c.FS.Duration("validity", 2*time.Hour, "validity of the published policy")
	every := c.FS.Duration("check-interval", time.Second, "how often the live policy is checked")
	refreshEvery := c.FS.Duration("refresh-interval", time.Minute, "how often the in-process refresh republishes the policy (0: never)")
	watchEvery := c.FS.Duration("watch-interval", 10*time.Second, "how often the in-process exit-owner watch runs (0: never)")
	rate := c.FS.Float64("rate", 2, "simulated plans per second (0: no traffic)")
	summaryEvery := c.FS.Duration("summary-interval", 2*time.Second, "how often the summary is redrawn (in a terminal) or printed")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *rate < 0 || *rate > 1000 || *summaryEvery <= 0 || *every <= 0 {
		fmt.Fprintln(c.Env.Stderr, "quantum dev: want 0 <= --rate <= 1000, --summary-interval > 0 and --check-interval > 0")
		return cli.ExitUsage
	}
	out := c.Env.Stdout
	term := app.IsTerminal(out)
	if term && !c.IsSet("log-level") {
		// The summary tells what the logs would; they would scroll it away.
		c.G.LogLevel = "error"
	}
	log := c.Logger()
	opt := app.DevOptions{Port: *port, Validity: *validity, RefreshEvery: *refreshEvery, WatchEvery: *watchEvery,
		Rate: *rate, Now: c.Env.Clock(), Log: log}
	if c.IsSet("redis") {
		rdb, err := c.Redis()
		if err != nil {
			return c.Errorf("%v", err)
		}
		defer rdb.Close()
		if !c.IsSet("prefix") {
			c.G.Prefix = "quantum-dev"
		}
		opt.Redis = rdb
	}
	opt.Keys = c.Keys()
	d, err := app.StartDev(ctx, opt)
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer d.Close()
	screen := app.DevScreen{Out: out, Term: term, CheckEvery: *every, SummaryEvery: *summaryEvery}
	if c.IsSet("redis") {
		screen.RedisURL = c.G.RedisURL
	}
	d.Show(ctx, screen)
	return cli.ExitOK
}
