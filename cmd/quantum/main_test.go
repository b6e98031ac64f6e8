package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
)

func TestMain(m *testing.M) {
	// Re-executed by a test as the quantum binary (see quantumCommand).
	if os.Getenv("QUANTUM_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	redistest.Main(m)
}

// quantumCommand returns a command that runs this test binary as quantum
// with args: no separate build, and the code under test is this package's.
func quantumCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "QUANTUM_TEST_RUN_MAIN=1")
	return cmd
}

// syncBuffer is a buffer safe for a command writing while a test reads.
type syncBuffer = testkit.Buffer

// result is what one command run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// harness runs commands in-process with a private environment.
type harness struct {
	t   *testing.T
	env map[string]string
	now func() time.Time
}

func newHarness(t *testing.T, vars map[string]string) *harness {
	return &harness{t: t, env: vars}
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn(context.Background(), "", args...)
}

func (h *harness) runIn(ctx context.Context, stdin string, args ...string) result {
	h.t.Helper()
	var out, errb syncBuffer
	code := cli.Run(ctx, args, &cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return h.env[k] }, Now: h.now,
	})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// want fails the test unless the command exited with code and its output
// holds every fragment.
func (r result) want(t *testing.T, code int, fragments ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, f := range fragments {
		if !strings.Contains(all, f) {
			t.Fatalf("output lacks %q\nstdout: %s\nstderr: %s", f, r.stdout, r.stderr)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelp(t *testing.T) {
	h := newHarness(t, nil)
	r := h.run("help")
	r.want(t, 0, "policy publish", "policy verify", "policy keygen", "policy show", "policy audit", "dev", "QUANTUM_REDIS_URL")
	for _, c := range cli.Commands() {
		args := append(strings.Fields(c.Name), "--help")
		r := h.run(args...)
		r.want(t, 0, "Usage: quantum "+c.Name, c.Summary, "-redis")
	}
	h.run("help", "policy", "verify").want(t, 0, "Exit status: 0 when a valid")
	h.run("frobnicate").want(t, 2, `unknown command "frobnicate"`)
	h.run("policy").want(t, 2, "policy publish")
	h.run("policy", "nope").want(t, 2, `unknown command "nope"`)
	h.run().want(t, 2, "Commands:")
	h.run("policy", "keygen", "--bogus").want(t, 2, "quantum help policy keygen")
}
