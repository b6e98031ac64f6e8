package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

// runEnvFlag runs a command with one env-backed duration flag through Run.
func runEnvFlag(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	name := "envflag-parse-test"
	if lookupName(name) == nil {
		Register(&Command{Name: name, Summary: "test", Run: func(ctx context.Context, c *Invocation) int {
			ef := NewEnvFlags(c)
			ef.Duration("window", "TEST_WINDOW", time.Minute, "a window")
			if code, ok := ef.Parse(0); !ok {
				return code
			}
			return 42 // parsed and checked
		}})
	}
	var stderr strings.Builder
	code := Run(context.Background(), append([]string{name}, args...), &Env{
		Stdout: &strings.Builder{}, Stderr: &stderr, Getenv: func(k string) string { return env[k] },
	})
	return code, stderr.String()
}

func lookupName(name string) *Command {
	for _, c := range commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestEnvFlagsParse: a variable that does not parse stops the command
// (exit 2, named on stderr) unless its flag overrides it; a bad flag is a
// usage error too, and a good variable runs the command.
func TestEnvFlagsParse(t *testing.T) {
	if code, msg := runEnvFlag(t, map[string]string{"TEST_WINDOW": "soon"}); code != ExitUsage || !strings.Contains(msg, "TEST_WINDOW") {
		t.Errorf("bad variable: exit %d, stderr %q; want 2 naming TEST_WINDOW", code, msg)
	}
	if code, msg := runEnvFlag(t, map[string]string{"TEST_WINDOW": "soon"}, "--window", "5m"); code != 42 {
		t.Errorf("bad variable overridden by its flag: exit %d (%s), want the command to run", code, msg)
	}
	if code, _ := runEnvFlag(t, nil, "--window", "x"); code != ExitUsage {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if code, msg := runEnvFlag(t, map[string]string{"TEST_WINDOW": "5m"}); code != 42 {
		t.Errorf("good variable: exit %d (%s), want the command to run", code, msg)
	}
}
