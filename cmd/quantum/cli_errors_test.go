package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

// TestFlagErrorsNameThemselves: each mistyped flag and bad value is
// printed with the flag and the value as typed, then the usage hint, and
// exits 2 (policy verify exits 1: SPEC.md gives it 0 for a verified policy
// and 1 for anything else). Nothing here reaches Redis: the parse fails
// first.
func TestFlagErrorsNameThemselves(t *testing.T) {
	h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": "redis://127.0.0.1:1/0"})
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"policy", "verify", "--pubky", "x"}, 1, []string{"unknown flag --pubky", "--pubky x", "did you mean --pubkey?"}},
		{[]string{"apply-layer", "--keyrng", "/etc/quantum/keyring"}, 2, []string{"unknown flag --keyrng", "--keyrng /etc/quantum/keyring", "did you mean --keyring?"}},
		{[]string{"exit-owner", "watch", "--window", "five"}, 2, []string{`--window "five"`, `invalid duration "five"`}},
		{[]string{"policy", "refresh", "--validity", "two hours"}, 2, []string{`--validity "two hours"`, "invalid duration"}},
		{[]string{"policy", "refresh", "--validity=2 h"}, 2, []string{`--validity "2 h"`}},
		{[]string{"status", "--window"}, 2, []string{"--window needs a value"}},
		{[]string{"dev", "--port", "six"}, 2, []string{`--port "six"`, "want a whole number"}},
		{[]string{"dev", "--rate", "fast"}, 2, []string{`--rate "fast"`, "want a number"}},
		{[]string{"plan", "send", "--canary=maybe"}, 2, []string{`--canary "maybe"`, "want true or false"}},
		{[]string{"policy", "audit", "--count", "ten"}, 2, []string{`--count "ten"`}},
		{[]string{"proof", "run", "--timout", "5s"}, 2, []string{"unknown flag --timout", "did you mean --timeout?"}},
		{[]string{"alerts", "forward", "--resend-interval", "soon"}, 2, []string{`--resend-interval "soon"`}},
		{[]string{"alerts", "forward", "--alertmanagr", "http://am:9093"}, 2, []string{"unknown flag --alertmanagr", "did you mean --alertmanager?"}},
		{[]string{"version", "--jsn"}, 2, []string{"unknown flag --jsn", "did you mean --json?"}},
		{[]string{"--redis"}, 2, []string{"--redis needs a value", "quantum help"}},
		{[]string{"--bogus=1", "status"}, 2, []string{"unknown flag --bogus", "--bogus=1"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := h.run(tc.args...)
			want := append(tc.want, "Run 'quantum help")
			r.want(t, tc.code, want...)
			if strings.Contains(r.stderr, "parse error") || strings.Contains(r.stderr, "flag provided but not defined") {
				t.Errorf("package flag's own wording leaked: %s", r.stderr)
			}
			if first := strings.SplitN(r.stderr, "\n", 2)[0]; !strings.HasPrefix(first, "quantum") {
				t.Errorf("first line %q does not say which command", first)
			}
		})
	}
}

// TestBadEnvValuesNameThemselves: the same bad value through the
// environment names the variable.
func TestBadEnvValuesNameThemselves(t *testing.T) {
	for variable, args := range map[string][]string{
		"QUANTUM_POLICY_VALIDITY":       {"policy", "refresh"},
		"QUANTUM_ALERT_RESEND_INTERVAL": {"alerts", "forward", "--alertmanager", "http://127.0.0.1:1"},
	} {
		h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": "redis://127.0.0.1:1/0", variable: "two hours"})
		h.run(args...).want(t, 2, variable+`="two hours"`)
	}
}

// TestVersion: the command prints the module path and says when no
// revision is recorded (a test binary records none); versionOf reads the
// revision, its time and the dirty flag from build info.
func TestVersion(t *testing.T) {
	h := newHarness(t, nil)
	h.run("version").want(t, 0, "quantum dev", "module   github.com/quantumtrader/quantum", "revision unknown", "go       go1.")
	h.run("version", "--json").want(t, 0, `"module": "github.com/quantumtrader/quantum"`, `"vcs_revision": ""`)
	v := versionOf(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/quantumtrader/quantum", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "8a335c8f00"}, {Key: "vcs.time", Value: "2026-12-01T08:00:00Z"}, {Key: "vcs.modified", Value: "true"}}})
	if got, want := v.String(), "quantum dev\nmodule   github.com/quantumtrader/quantum@v1.4.0\nrevision 8a335c8f00+dirty (2026-12-01T08:00:00Z)\ngo       go1.26.0"; got != want {
		t.Fatalf("version:\n%s\nwant:\n%s", got, want)
	}
}

// TestPolicyJSONErrorsSayWhere: a syntax error in a policy file names the
// file, the line and the column, for publish and for the refresh's
// template.
func TestPolicyJSONErrorsSayWhere(t *testing.T) {
	pe := newPolicyEnv(t)
	bad := writeFile(t, pe.dir, "bad.json", "{\n  \"universe_symbols\": [\"BTCUSDT\"]\n  \"policy_version\": \"x\"\n}\n")
	pe.run("policy", "publish", bad, "--key", pe.key).want(t, 1, bad+":3:3: invalid character")
	pe.runIn(context.Background(), "{\n\n ]", "policy", "publish", "-", "--key", pe.key).want(t, 1, "stdin:3:2: invalid character ']'")
	pe.run("policy", "refresh", "--template", bad, "--key", pe.key, "--pubkey", pe.pub).want(t, 2, "POLICY_PARSE_ERROR", bad+":3:3")
}
