package main

import (
	"context"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/watch"
)

// Exit codes of the exit-owner watch (SPEC.md). Usage errors share
// exitWatchFailed (c.UsageErr's cli.ExitUsage, 2): nothing was checked.
const (
	exitWatchClean   = 0
	exitWatchDenials = 1
	exitWatchFailed  = 2
)

func init() {
	cli.Register(&cli.Command{
		Name:    "exit-owner watch",
		Summary: "count DENY_NOT_EXIT_OWNER results in the window and raise EXIT_OWNER_VIOLATION (the 5-minute timer's job)",
		Help: `Counts the results on quantum:stream:apply.result with reason DENY_NOT_EXIT_OWNER
written in the last --window (a range of stream ids: every apply-layer replica's
results, never a journal). Canary denials (canary=true, from the proofs) are
counted apart and never alert.

When the count is above zero, raises EXIT_OWNER_VIOLATION on quantum:stream:alerts
(alert_type, status=firing, severity=critical, alert_id, deny_count, window,
timestamp, sources, symbols, first_plan_id, last_plan_id). Deduplicated: one
firing alert per incident, re-notified at most every --repeat-interval while
denials keep coming, and one status=resolved alert from the first run that finds
the window clean. Every run records a heartbeat in
quantum:heartbeat:exit-owner-watch (last_run_at, outcome, deny_count, error, ...).

--follow keeps running: it tails the result stream with a blocking read and
raises the alert within a second of a denial, rescans the whole window every
--interval (re-notify, resolve), records quantum:heartbeat:exit-owner-follow,
and stops on SIGTERM or Ctrl-C (exit 0). It shares the dedupe state with the
timer's runs, so both may run at once; give them the same --window.

Log lines carry [EXIT-OWNER-WATCH]. Operator guide: docs/watch.md.

Exit status: 0 no denials in the window; 1 denials found (the output says
whether the alert was published or held back by the repeat interval); 2 could
not check (Redis down, a permission missing, a result stream of the wrong type),
or the alert or heartbeat could not be written, and for usage errors.`,
		Run: runExitOwnerWatch,
	})
}

func runExitOwnerWatch(ctx context.Context, c *cli.Invocation) int {
	ef := cli.NewEnvFlags(c)
	window := ef.Duration("window", "QUANTUM_WATCH_WINDOW", watch.DefaultWindow, "count the denials of this last `DURATION`")
	repeat := ef.Duration("repeat-interval", "QUANTUM_ALERT_REPEAT_INTERVAL", watch.DefaultRepeatInterval, "re-notify a still-firing alert after this long")
	interval := ef.Duration("interval", "QUANTUM_WATCH_INTERVAL", watch.DefaultInterval,
		"how often the timer runs the watch (recorded in the heartbeat; keep it equal to OnUnitActiveSec); with --follow, how often the whole window is rescanned")
	follow := c.FS.Bool("follow", false, "keep running: raise the alert as soon as a denial is written")
	asJSON := c.FS.Bool("json", false, "print the result as JSON (not with --follow)")
	loadResultKey := resultKeyFlag(c)
	if code, ok := ef.Parse(0); !ok {
		return code // 0 for --help; a usage error or a bad variable is cli.ExitUsage, the same 2 as a failed check
	}
	if msg := watch.LegacyTestInput(c.Env.Getenv, c.G.Prefix); msg != "" {
		return c.UsageErr("%s", msg)
	}
	switch {
	case *window < time.Second || *repeat < time.Second || *interval < time.Second:
		return c.UsageErr("--window, --repeat-interval and --interval must be at least 1s")
	case *follow && *asJSON:
		return c.UsageErr("--json prints one run's result: not with --follow")
	}
	resultKey, err := loadResultKey()
	if err != nil {
		return c.UsageErr("%v", err)
	}
	connect := c.Redis
	if *follow {
		connect = c.RedisBlocking // its reads honour ctx, so SIGTERM ends a blocking read
	}
	rdb, err := connect()
	if err != nil {
		return c.UsageErr("%v", err)
	}
	defer rdb.Close()
	w, err := watch.Open(rdb, watch.Config{
		Keys: c.Keys(), Log: c.Logger(), Now: c.Env.Clock(),
		Window: *window, RepeatInterval: *repeat, Interval: *interval,
		ProofSource: c.Env.Getenv("QUANTUM_PROOF_SOURCE"), // "" is the default, quantum_proof
		ResultKey:   resultKey,
	})
	if err != nil {
		return c.UsageErr("%v", err)
	}
	if *follow {
		w.Follow(ctx)
		return exitWatchClean
	}

	rep, err := w.Run(ctx)
	watch.WriteRun(c.Env.Stdout, c.Env.Stderr, rep, err, *asJSON)
	switch {
	case err != nil:
		return exitWatchFailed
	case rep.Denials > 0:
		return exitWatchDenials
	}
	return exitWatchClean
}
