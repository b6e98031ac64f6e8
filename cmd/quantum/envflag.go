package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/refresh"
)

// envFlags defines flags whose default comes from an environment variable
// (SPEC.md: every option a unit needs also reads a variable; a flag
// overrides it). A variable that does not parse is an error unless its flag
// is given, reported by check after parse: a typo in quantum.env must not
// silently fall back to a default.
type envFlags struct {
	c   *invocation
	bad map[string]error // flag name -> its variable's parse error
}

func newEnvFlags(c *invocation) *envFlags { return &envFlags{c: c, bad: map[string]error{}} }

func (e *envFlags) Duration(name, variable string, def time.Duration, usage string) *time.Duration {
	if s := e.c.Env.Getenv(variable); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			e.bad[name] = fmt.Errorf("%s=%q: %w", variable, s, err)
		} else {
			def = d
		}
	}
	return e.c.FS.Duration(name, def, fmt.Sprintf("%s (env %s)", usage, variable))
}

func (e *envFlags) Int(name, variable string, def int, usage string) *int {
	if s := e.c.Env.Getenv(variable); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			e.bad[name] = fmt.Errorf("%s=%q: not an integer", variable, s)
		} else {
			def = n
		}
	}
	return e.c.FS.Int(name, def, fmt.Sprintf("%s (env %s)", usage, variable))
}

func (e *envFlags) String(name, variable, usage string) *string {
	return e.c.FS.String(name, e.c.Env.Getenv(variable), fmt.Sprintf("%s (env %s)", usage, variable))
}

// Check reports the variables that did not parse and whose flag was not
// given; it returns false when there is one.
func (e *envFlags) Check(w io.Writer) bool {
	ok := true
	for name, err := range e.bad {
		if !e.c.IsSet(name) {
			fmt.Fprintf(w, "quantum %s: %v\n", e.c.Cmd.Name, err)
			ok = false
		}
	}
	return ok
}

// alarmFlags defines the expiry alarm's flags, shared by policy refresh and
// policy verify so that one variable sets both.
func (e *envFlags) alarmFlags() (threshold, repeat *time.Duration) {
	threshold = e.Duration("expiry-alarm", "QUANTUM_POLICY_EXPIRY_ALARM", refresh.DefaultExpiryAlarm, "raise POLICY_EXPIRING below this remaining validity (0: off)")
	repeat = e.Duration("repeat-interval", "QUANTUM_ALERT_REPEAT_INTERVAL", refresh.DefaultRepeatInterval, "re-notify a still-firing alert after this long")
	return threshold, repeat
}

// resultKeyFlag defines --result-key (env QUANTUM_RESULT_KEY), shared by the
// apply layer's readers (exit-owner watch, status, proofs); load reads the
// key after parse, nil when none is configured.
func resultKeyFlag(c *invocation) (load func() ([]byte, error)) {
	path := c.FS.String("result-key", c.Env.Getenv("QUANTUM_RESULT_KEY"), "`FILE` of the apply layer's result key: results whose result_mac does not verify are ignored and reported RESULT_FORGED (env QUANTUM_RESULT_KEY)")
	return func() ([]byte, error) {
		if *path == "" {
			return nil, nil
		}
		return plan.LoadResultKey(*path)
	}
}
