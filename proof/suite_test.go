package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/plan"
)

// TestSelect: all gives every proof; names give those, in the order named;
// an unknown name and no name are errors that list the proofs.
func TestSelect(t *testing.T) {
	ps, err := Select(true, []string{"ignored"})
	if err != nil || len(ps) != len(All()) {
		t.Fatalf("all: %d proofs, %v", len(ps), err)
	}
	names := Names()
	ps, err = Select(false, []string{names[len(names)-1], names[0]})
	if err != nil || len(ps) != 2 || ps[0].Name != names[len(names)-1] || ps[1].Name != names[0] {
		t.Fatalf("named: %v, %v", ps, err)
	}
	for _, args := range [][]string{nil, {names[0], "no-such-proof"}} {
		if _, err := Select(false, args); err == nil || !strings.Contains(err.Error(), names[0]) {
			t.Errorf("Select(%q): %v, want an error listing the proofs", args, err)
		}
	}
}

// TestLoadKeys: unset keys are errors of their own (the tests that need
// them fail), never a default; a key file others can read is refused; a
// good line fills in the source and secret.
func TestLoadKeys(t *testing.T) {
	var cfg Config
	cfg.LoadKeys("", "")
	if cfg.PolicyKeys != nil || cfg.PolicyKeysErr == nil || cfg.ProofKeyErr == nil || cfg.ProofSource != "" {
		t.Fatalf("unset: %+v", cfg)
	}
	dir := t.TempDir()
	line, _ := plan.KeygenLine("quantum_proof")
	open, good := filepath.Join(dir, "open.key"), filepath.Join(dir, "proof.key")
	os.WriteFile(open, []byte(line+"\n"), 0o644)
	os.WriteFile(good, []byte(line+"\n"), 0o600)
	cfg = Config{}
	cfg.LoadKeys(filepath.Join(dir, "none.pub"), open)
	if cfg.PolicyKeys != nil || cfg.PolicyKeysErr == nil || cfg.ProofKeyErr == nil || cfg.ProofSecret != nil {
		t.Fatalf("bad files: %+v", cfg)
	}
	cfg = Config{}
	cfg.LoadKeys("", good)
	if cfg.ProofKeyErr != nil || cfg.ProofSource != "quantum_proof" || len(cfg.ProofSecret) == 0 {
		t.Fatalf("good key: %+v", cfg)
	}
}

// TestListJSON: the keys of `proof list --json`, in their order.
func TestListJSON(t *testing.T) {
	b, err := json.Marshal(List())
	if err != nil {
		t.Fatal(err)
	}
	p := All()[0]
	want := `[{"name":"` + p.Name + `","purpose":`
	if !bytes.HasPrefix(b, []byte(want)) || !bytes.Contains(b, []byte(`,"tests":[{"Name":"`+p.Tests[0].Name+`","Doc":`)) {
		t.Fatalf("list JSON %s", b[:min(len(b), 300)])
	}
}

// TestRunAllRecordFailure: a run the ledger does not take (the ledger
// stream is of the wrong type) fails the whole run, and is reported once
// per proof, even when the proof passed.
func TestRunAllRecordFailure(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	env.Client.Set(ctx, env.Keys.ProofRuns(), "not a stream", 0)
	p := &Proof{Name: "ok", Tests: []Test{{Name: "passes", Run: func(context.Context, *run) (Status, string) { return Pass, "ok" }}}}
	var failures []error
	cfg := Config{Redis: env.Client, Keys: env.Keys, Now: time.Now}
	reps, ok := RunAll(ctx, cfg, []*Proof{p, p}, Meta{Host: "h"}, func(err error) { failures = append(failures, err) })
	if ok || len(reps) != 2 || !reps[0].OK() || len(failures) != 2 {
		t.Fatalf("ok=%v reports=%d failures=%v", ok, len(reps), failures)
	}
	env.Client.Del(ctx, env.Keys.ProofRuns())
	failures = nil
	if _, ok := RunAll(ctx, cfg, []*Proof{p}, Meta{Host: "h"}, func(err error) { failures = append(failures, err) }); !ok || failures != nil {
		t.Fatalf("recorded run: ok=%v failures=%v", ok, failures)
	}
}

// TestWriteRuns: one line per entry under the header, failed tests
// comma-separated, times in UTC.
func TestWriteRuns(t *testing.T) {
	var b bytes.Buffer
	WriteRuns(&b, []Entry{{Proof: "p", Result: Fail, Passed: 1, Failed: 2, Timestamp: 0, Host: "h", Version: "v", FailedTests: []string{"a", "b"}}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") || !strings.HasPrefix(lines[1], "1970-01-01T00:00:00Z") || !strings.HasSuffix(lines[1], "a,b") {
		t.Fatalf("runs table:\n%s", b.String())
	}
}

// TestCheckRun: an unknown format and a zero or negative duration are
// refused with the flag's name; the good options pass.
func TestCheckRun(t *testing.T) {
	for _, tc := range []struct {
		format           string
		timeout, refresh time.Duration
		want             string
	}{
		{"text", time.Second, time.Minute, ""},
		{"json", time.Second, time.Minute, ""},
		{"xml", time.Second, time.Minute, `--format "xml"`},
		{"tap", 0, time.Minute, "--timeout"},
		{"junit", time.Second, -time.Minute, "--refresh-interval"},
	} {
		err := CheckRun(tc.format, tc.timeout, tc.refresh)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckRun(%q, %v, %v) = %v, want %q", tc.format, tc.timeout, tc.refresh, err, tc.want)
		}
	}
}
