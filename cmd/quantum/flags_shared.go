package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/refresh"
)

// alarmFlags defines the expiry alarm's flags, shared by policy refresh and
// policy verify so that one variable sets both.
func alarmFlags(e *cli.EnvFlags) (threshold, repeat *time.Duration) {
	threshold = e.Duration("expiry-alarm", "QUANTUM_POLICY_EXPIRY_ALARM", refresh.DefaultExpiryAlarm, "raise POLICY_EXPIRING below this remaining validity (0: off)")
	repeat = e.Duration("repeat-interval", "QUANTUM_ALERT_REPEAT_INTERVAL", refresh.DefaultRepeatInterval, "re-notify a still-firing alert after this long")
	return threshold, repeat
}

// resultKeyFlag defines --result-key (env QUANTUM_RESULT_KEY), shared by the
// apply layer's readers (exit-owner watch, status, proofs); load reads the
// key after parse, nil when none is configured.
func resultKeyFlag(c *cli.Invocation) (load func() ([]byte, error)) {
	path := c.FS.String("result-key", c.Env.Getenv("QUANTUM_RESULT_KEY"), "`FILE` of the apply layer's result key: results whose result_mac does not verify are ignored and reported RESULT_FORGED (env QUANTUM_RESULT_KEY)")
	return func() ([]byte, error) { return plan.LoadResultKeyIfSet(*path) }
}

// loadVerified loads the live policy with the keys of pubkeys and checks it
// against the audit trail and the rollback memory (POLICY_ROLLBACK). A
// missing or unreadable key file fails closed like any other refusal.
func loadVerified(ctx context.Context, c *cli.Invocation, pubkeys string, skew time.Duration) (*policy.Signed, error) {
	return policystore.LoadVerified(ctx, c.Redis, pubkeys, c.Env.Getenv(policy.EncodingsEnv), policystore.Options{Keys: c.Keys(), Now: c.Env.Clock(), ClockSkew: skew})
}

// printReport prints a check's report as JSON (--json) or as text; exit 0
// when ok, 1 otherwise.
func printReport(c *cli.Invocation, asJSON bool, rep any, text func(io.Writer) error, ok bool) int {
	if asJSON {
		cli.WriteJSON(c.Env.Stdout, rep)
	} else {
		text(c.Env.Stdout)
	}
	if !ok {
		return cli.ExitFail
	}
	return cli.ExitOK
}

// couldNotCheck reports a check that could not run (Redis unreachable, an
// unreadable key file): "quantum CMD: could not check: ...", exit 2.
func couldNotCheck(c *cli.Invocation, err error) int {
	return configErr(c, fmt.Errorf("could not check: %w", err))
}

// configErr reports an error of the command's configuration or input
// without c.UsageErr's hint: "quantum CMD: ...", exit 2.
func configErr(c *cli.Invocation, err error) int {
	c.Errorf("%v", err)
	return cli.ExitUsage
}
