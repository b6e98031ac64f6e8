package main

import (
	"fmt"
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
	return func() ([]byte, error) {
		if *path == "" {
			return nil, nil
		}
		return plan.LoadResultKey(*path)
	}
}

// policyStore returns a store over a new Redis client for --redis and
// --prefix, trusting ring (nil for commands that only read raw fields or
// publish-check with their own), and a function that closes the client.
func policyStore(c *cli.Invocation, ring *policy.TrustedKeys, skew time.Duration) (*policystore.Store, func(), error) {
	rdb, err := c.Redis()
	if err != nil {
		return nil, nil, err
	}
	store, err := policystore.New(rdb, policystore.Options{Keys: c.Keys(), Keyring: ring, Now: c.Env.Clock(), ClockSkew: skew})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return store, func() { rdb.Close() }, nil
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
