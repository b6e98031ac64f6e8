package refresh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// Source gives the content of the next policy: the JSON that `quantum
// policy publish` takes. Errors carry a reason code: REFRESH_CONFIG_INVALID
// when the source cannot be used at all, REFRESH_GENERATOR_FAILED or
// REFRESH_GENERATOR_TIMEOUT for a generator that did not succeed,
// POLICY_PARSE_ERROR for output that is not a policy's content.
type Source interface {
	Content(ctx context.Context) (*policy.Content, error)
}

// SourceFunc adapts a function to Source (quantum dev, tests).
type SourceFunc func(ctx context.Context) (*policy.Content, error)

// Content calls f.
func (f SourceFunc) Content(ctx context.Context) (*policy.Content, error) { return f(ctx) }

// Template reads the content from a JSON file, again on every run, so that
// an edit takes effect at the next refresh.
type Template struct{ Path string }

// Content reads and parses the file strictly (policy.ParseContent).
func (t Template) Content(context.Context) (*policy.Content, error) {
	f, err := os.Open(t.Path)
	if err != nil {
		return nil, reason.Errorf(reason.RefreshConfigInvalid, "template: %w", err)
	}
	defer f.Close()
	c, err := policy.ParseContentFile(t.Path, f)
	if err != nil {
		return nil, reason.Errorf(reason.PolicyParseError, "template: %w", err)
	}
	return c, nil
}

// guard runs the generator command ($1) under a shell that kills the whole
// process group when it receives SIGHUP, which the kernel sends it when the
// refresh dies (Pdeathsig): a killed refresh leaves no generator, nor any
// of its children, running. The guard exits with the command's status.
// (Pdeathsig follows the OS thread that started the child; the Go runtime
// ends a thread only when a goroutine locked to it exits, which nothing in
// this program does.)
const guard = `trap 'kill -KILL 0' HUP; /bin/sh -c "$1" & wait $!`

// Generator limits.
const (
	DefaultGeneratorTimeout = time.Minute
	maxGeneratorStdout      = 1 << 20  // the limit of policy.ParseContent
	maxGeneratorStderr      = 64 << 10 // kept for the log; the rest is counted, not kept
)

// Generator runs a command that prints the content as JSON on stdout.
//
// The command is a shell command line, run as /bin/sh -c COMMAND in its own
// process group with stdin from /dev/null and the environment of this
// process. It must exit 0 within Timeout: otherwise the whole process group
// is killed and nothing it printed is used. If this process dies first, even
// of SIGKILL, the group is killed too (guard). Its stderr is logged line by line
// (at warn level when it failed); its stdout is parsed strictly, so a
// truncated, oversized or chatty output is refused, never half-used. Only the
// exit status, not the stderr text, goes into the audit entry and the alert,
// which more people can read than the journal.
type Generator struct {
	Command string
	Timeout time.Duration // 0 means DefaultGeneratorTimeout
	Log     *slog.Logger  // nil discards the stderr
}

// Content runs the command and parses what it printed.
func (g Generator) Content(ctx context.Context) (*policy.Content, error) {
	if strings.TrimSpace(g.Command) == "" {
		return nil, reason.Errorf(reason.RefreshConfigInvalid, "empty generator command")
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultGeneratorTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "/bin/sh", "-c", guard, "quantum-generator", g.Command)
	// Its own process group, and SIGHUP to the guard shell when this
	// process dies (even of SIGKILL): the guard then kills the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGHUP}
	// Kill the group, not only the shell: a generator's children must not
	// outlive the run (and hold its pipes open).
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	stdout := &capped{max: maxGeneratorStdout}
	stderr := &capped{max: maxGeneratorStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	g.logStderr(stderr, err != nil)

	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("generator interrupted: %w", ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return nil, reason.Errorf(reason.RefreshGeneratorTimeout, "generator did not finish within %s: killed", timeout)
	case err != nil:
		return nil, reason.Errorf(reason.RefreshGeneratorFailed, "generator: %w (after %s)", err, elapsed)
	case stdout.dropped > 0:
		return nil, reason.Errorf(reason.PolicyParseError, "generator printed more than %d bytes", maxGeneratorStdout)
	}
	c, err := policy.ParseContent(bytes.NewReader(stdout.buf.Bytes()))
	if err != nil {
		return nil, reason.Errorf(reason.PolicyParseError, "generator output: %w", err)
	}
	return c, nil
}

func (g Generator) logStderr(stderr *capped, failed bool) {
	if g.Log == nil {
		return
	}
	level := slog.LevelInfo
	if failed {
		level = slog.LevelWarn
	}
	sc := bufio.NewScanner(bytes.NewReader(stderr.buf.Bytes()))
	sc.Buffer(make([]byte, 0, 4096), maxGeneratorStderr)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			g.Log.Log(context.Background(), level, tag+" generator stderr", "line", line)
		}
	}
	if stderr.dropped > 0 {
		g.Log.Log(context.Background(), level, tag+" generator stderr truncated", "dropped_bytes", stderr.dropped)
	}
}

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

// Write never fails, so that the writer is not stopped by a short write.
func (c *capped) Write(p []byte) (int, error) {
	keep := min(len(p), max(c.max-c.buf.Len(), 0))
	c.buf.Write(p[:keep])
	c.dropped += len(p) - keep
	return len(p), nil
}
