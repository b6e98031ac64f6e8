package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// EnvFlags defines flags whose default comes from an environment variable
// (SPEC.md: every option a unit needs also reads a variable; a flag
// overrides it). A variable that does not parse is an error unless its flag
// is given, reported by check after parse: a typo in quantum.env must not
// silently fall back to a default.
type EnvFlags struct {
	c   *Invocation
	bad map[string]error // flag name -> its variable's parse error
}

func NewEnvFlags(c *Invocation) *EnvFlags { return &EnvFlags{c: c, bad: map[string]error{}} }

func (e *EnvFlags) Duration(name, variable string, def time.Duration, usage string) *time.Duration {
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

func (e *EnvFlags) Int(name, variable string, def int, usage string) *int {
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

func (e *EnvFlags) String(name, variable, usage string) *string {
	return e.c.FS.String(name, e.c.Env.Getenv(variable), fmt.Sprintf("%s (env %s)", usage, variable))
}

// Bool defines a bool flag whose default comes from variable (true or
// false, as strconv.ParseBool reads them).
func (e *EnvFlags) Bool(name, variable string, def bool, usage string) *bool {
	if s := e.c.Env.Getenv(variable); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			e.bad[name] = fmt.Errorf("%s=%q: want true or false", variable, s)
		} else {
			def = b
		}
	}
	return e.c.FS.Bool(name, def, fmt.Sprintf("%s (env %s)", usage, variable))
}

// Check reports the variables that did not parse and whose flag was not
// given; it returns false when there is one.
func (e *EnvFlags) Check(w io.Writer) bool {
	ok := true
	for name, err := range e.bad {
		if !e.c.IsSet(name) {
			fmt.Fprintf(w, "quantum %s: %v\n", e.c.Cmd.Name, err)
			ok = false
		}
	}
	return ok
}
