package proof

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestDeleteScratchOnlyItsPrefix(t *testing.T) {
	rd := redistest.New(t)
	ctx := context.Background()
	if err := DeleteScratch(ctx, rd.Client, rd.Keys); err == nil {
		t.Fatalf("DeleteScratch accepted the non-scratch prefix %s", rd.Keys.Prefix())
	}
	ks := keys.MustNew(ScratchPrefix + "unit-0")
	keep := []string{ScratchPrefix + "unit-01:x", rd.Keys.PolicyCurrent(), ScratchPrefix + "unit-0"}
	for _, k := range append([]string{ks.PolicyCurrent(), ks.Alerts()}, keep...) {
		rd.Client.Set(ctx, k, "1", 0)
	}
	if err := DeleteScratch(ctx, rd.Client, ks); err != nil {
		t.Fatal(err)
	}
	if n := rd.Client.Exists(ctx, ks.PolicyCurrent(), ks.Alerts()).Val(); n != 0 {
		t.Fatalf("%d scratch keys left", n)
	}
	if n := rd.Client.Exists(ctx, keep...).Val(); n != int64(len(keep)) {
		t.Fatalf("DeleteScratch deleted %d keys outside its prefix", int64(len(keep))-n)
	}
}

func TestTimerActive(t *testing.T) {
	cases := []struct {
		systemd         bool
		enabled, active string
		want            Status
		evidence        string
	}{
		{false, "", "", Skip, "systemd is not running"},
		{true, "enabled", "active", Pass, "enabled and active"},
		{true, "disabled", "inactive", Fail, `is "disabled", want enabled`},
		{true, "enabled", "inactive", Fail, `enabled but "inactive"`},
	}
	for _, c := range cases {
		r := &run{Config: Config{
			HasSystemd: func() bool { return c.systemd },
			Systemctl: func(_ context.Context, args ...string) (string, error) {
				if args[0] == "is-enabled" {
					return c.enabled, nil
				}
				return c.active, nil
			},
		}}
		st, ev := timerActive(context.Background(), r, "x.timer")
		if st != c.want || !strings.Contains(ev, c.evidence) {
			t.Errorf("%+v: %s %q", c, st, ev)
		}
	}
}

func TestRunCountsAndPanics(t *testing.T) {
	p := &Proof{Name: "unit", Tests: []Test{
		{Name: "ok", Run: func(context.Context, *run) (Status, string) { return Pass, "fine\nand more" }},
		{Name: "skip", Run: func(context.Context, *run) (Status, string) { return Skip, "no systemd" }},
		{Name: "boom", Run: func(context.Context, *run) (Status, string) { panic("oops") }},
		{Name: "odd", Run: func(context.Context, *run) (Status, string) { return "MAYBE", "?" }},
	}}
	rep := Run(context.Background(), Config{}, p)
	if rep.Passed != 1 || rep.Skipped != 1 || rep.Failed != 2 || rep.OK() || rep.Verdict() != Fail {
		t.Fatalf("report %+v", rep)
	}
	if rep.Results[0].Evidence != "fine and more" || !strings.Contains(rep.Results[2].Evidence, "panicked: oops") {
		t.Fatalf("evidence %+v", rep.Results)
	}
	if got := strings.Join(rep.FailedTests(), ","); got != "boom,odd" {
		t.Fatalf("failed tests %s", got)
	}
	p.setup = func(context.Context, *run) error { return errors.New("no Redis") }
	rep = Run(context.Background(), Config{}, p)
	if rep.Failed != 4 || !strings.Contains(rep.Results[1].Evidence, "setup failed: no Redis") {
		t.Fatalf("a failed setup must fail every test: %+v", rep)
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	rd := redistest.New(t)
	ctx := context.Background()
	rep := &Report{Proof: "exit-owner-gate", Script: "scripts/proof_exit_owner_gate.sh", Started: time.Unix(1700000000, 0), Duration: 1500 * time.Millisecond,
		Results: []Result{{Test: "a", Status: Pass, Evidence: "ok"}, {Test: "b", Status: Fail, Evidence: "bad"}}, Passed: 1, Failed: 1}
	if _, err := Record(ctx, rd.Client, rd.Keys, rep, Meta{Host: "h1", Version: "v1", Commit: "abc"}); err != nil {
		t.Fatal(err)
	}
	raw := redistest.StreamEntries(t, rd.Client, rd.Keys.ProofRuns())
	for _, f := range []string{"proof", "script", "result", "passed", "failed", "skipped", "timestamp", "host", "version", "commit", "duration_ms", "failed_tests", "tests"} {
		if _, ok := raw[0][f]; !ok {
			t.Errorf("ledger entry lacks field %s: %v", f, raw[0])
		}
	}
	es, err := Entries(ctx, rd.Client, rd.Keys, 5)
	if err != nil || len(es) != 1 {
		t.Fatalf("%v %v", es, err)
	}
	e := es[0]
	if e.Result != Fail || e.Passed != 1 || e.Failed != 1 || e.DurationMS != 1500 || e.Timestamp != 1700000000 ||
		strings.Join(e.FailedTests, ",") != "b" || len(e.Tests) != 2 || e.Host != "h1" {
		t.Fatalf("entry %+v", e)
	}
	var b bytes.Buffer
	WriteMarkdown(&b, Latest(es))
	for _, want := range []string{"## exit-owner-gate", "**Status:** FAIL (1/2 PASS)", "**Failed:** b", "2023-11-14T22:13:20Z on h1", "## policy-refresh", "never run"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}

func TestLedgerMinimum(t *testing.T) {
	want := map[string]int{"policy-fail-closed": 10, "exit-owner-gate": 6, "policy-refresh": 10, "exit-owner-watch": 10, "exposure-limits": 8}
	for _, p := range All() {
		if len(p.Tests) < want[p.Name] {
			t.Errorf("%s has %d tests, the ledger names %d", p.Name, len(p.Tests), want[p.Name])
		}
		seen := map[string]bool{}
		for _, tt := range p.Tests {
			if seen[tt.Name] || tt.Doc == "" {
				t.Errorf("%s/%s: duplicate or undocumented", p.Name, tt.Name)
			}
			seen[tt.Name] = true
		}
	}
	if len(want) != len(All()) {
		t.Errorf("%d proofs, want %d", len(All()), len(want))
	}
}
