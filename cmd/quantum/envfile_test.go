package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/internal/cli"
)

// TestEnvFileForOperatorCommands: a command in a shell reads the units'
// environment file (--env-file, QUANTUM_ENV_FILE, or the default path when
// it exists), so `quantum status` checks the signature instead of saying
// "signature not checked"; the environment wins over the file, a flag over
// both; a named file that cannot be read or parsed is a usage error that
// never echoes a value.
func TestEnvFileForOperatorCommands(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.run("policy", "publish", pe.policyFile, "--key", pe.key).want(t, 0)
	dir := t.TempDir()
	file := filepath.Join(dir, "quantum.env")
	content := "# units' settings\n\nQUANTUM_REDIS_URL=" + pe.rd.Server.URL() + "\nQUANTUM_PREFIX=\"" + pe.rd.Keys.Prefix() + "\"\n; a comment\nQUANTUM_POLICY_PUBKEY=" + pe.pub + "\n"
	if err := os.WriteFile(file, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	shell := newHarness(t, map[string]string{}) // a shell with nothing exported
	shell.run("policy", "verify").want(t, 1)    // the default Redis, no key: not this deployment
	shell.run("policy", "verify", "--env-file", file).want(t, 0, "OK policy_version=1.0.0-ai-v1")
	r := shell.run("status", "--env-file", file)
	if strings.Contains(r.stdout, "signature not checked") || !strings.Contains(r.stdout, "signature ok") {
		t.Fatalf("status with the env file:\n%s%s", r.stdout, r.stderr)
	}
	shell.env["QUANTUM_ENV_FILE"] = file
	shell.run("policy", "verify").want(t, 0, "OK")
	shell.env["QUANTUM_PREFIX"] = "elsewhere" // the environment wins over the file
	shell.run("policy", "verify").want(t, 1, "POLICY_MISSING")
	shell.run("policy", "verify", "--prefix", pe.rd.Keys.Prefix()).want(t, 0, "OK") // a flag over both
	delete(shell.env, "QUANTUM_PREFIX")

	// The default path, when it exists (the binary's is /etc/quantum/quantum.env).
	var out, errb syncBuffer
	code := cli.Run(t.Context(), []string{"policy", "verify"}, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, EnvFile: file})
	if code != 0 {
		t.Fatalf("the default env file was not read: %d %s %s", code, out.String(), errb.String())
	}
	code = cli.Run(t.Context(), []string{"policy", "verify"}, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, EnvFile: filepath.Join(dir, "absent.env")})
	if code != 1 || strings.Contains(errb.String(), "absent.env") {
		t.Fatalf("an absent default env file: exit %d, stderr %s", code, errb.String())
	}

	shell.run("status", "--env-file", filepath.Join(dir, "nope.env")).want(t, 2, "environment file", "nope.env")
	bad := filepath.Join(dir, "bad.env")
	os.WriteFile(bad, []byte("QUANTUM_REDIS_URL=redis://u:s3cret@h:1/0\nthis line s3cret has no equals\n"), 0o600)
	r = shell.run("status", "--env-file", bad)
	r.want(t, 2, "bad.env:2: want NAME=value")
	if strings.Contains(r.stderr, "s3cret") {
		t.Fatalf("a value was echoed: %s", r.stderr)
	}
}

// TestWatchRefusesLegacyTestInput: EXIT_OWNER_WATCH_TEST_INPUT used to feed
// the old watch test lines; set, the watch refuses (exit 2) before touching
// Redis, so it never acts on production.
func TestWatchRefusesLegacyTestInput(t *testing.T) {
	pe := newPolicyEnv(t)
	pe.env["EXIT_OWNER_WATCH_TEST_INPUT"] = filepath.Join(t.TempDir(), "lines.txt")
	pe.run("exit-owner", "watch").want(t, 2, "EXIT_OWNER_WATCH_TEST_INPUT is set", "proof run exit-owner-watch")
	if n := pe.rd.Client.Exists(t.Context(), pe.rd.Keys.Alerts(), pe.rd.Keys.Heartbeat("exit-owner-watch")).Val(); n != 0 {
		t.Fatalf("the refused watch wrote %d keys", n)
	}
}
