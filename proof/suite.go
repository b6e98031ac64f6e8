package proof

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/producer"
)

// Select returns every proof (all) or the named ones, in the order named;
// an unknown name or no name at all is an error that lists the proofs.
func Select(all bool, names []string) ([]*Proof, error) {
	if all {
		return All(), nil
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("name at least one proof: %s", strings.Join(Names(), ", "))
	}
	var proofs []*Proof
	for _, n := range names {
		p := Lookup(n)
		if p == nil {
			return nil, fmt.Errorf("unknown proof %q: want one of %s", n, strings.Join(Names(), ", "))
		}
		proofs = append(proofs, p)
	}
	return proofs, nil
}

// LoadKeys fills in the trusted policy keys from pubkeys (comma-separated
// files, QUANTUM_POLICY_PUBKEY) and the canaries' keyring line from the file
// proofKey (QUANTUM_PROOF_KEY_FILE). A missing or bad one is not an error
// here: its *Err says why, and the tests that need it fail.
func (cfg *Config) LoadKeys(pubkeys, proofKey string) {
	var err error
	if paths := secretfile.SplitList(pubkeys); len(paths) == 0 {
		cfg.PolicyKeysErr = fmt.Errorf("QUANTUM_POLICY_PUBKEY / --pubkey is not set")
	} else if cfg.PolicyKeys, err = policy.LoadTrustedKeys(paths...); err != nil {
		cfg.PolicyKeys, cfg.PolicyKeysErr = nil, err
	}
	if proofKey == "" {
		cfg.ProofKeyErr = fmt.Errorf("QUANTUM_PROOF_KEY_FILE / --proof-key is not set")
	} else if signer, err := producer.LoadSigner(proofKey); err != nil {
		cfg.ProofKeyErr = err
	} else {
		cfg.ProofSource, cfg.ProofSecret = signer.Source, signer.Secret
	}
}

// RunAll runs each proof and records its run on the ledger, calling
// recordFailed for a run the ledger did not take. It returns the reports in
// order, and whether every proof passed and was recorded.
func RunAll(ctx context.Context, cfg Config, proofs []*Proof, m Meta, recordFailed func(error)) ([]*Report, bool) {
	var reports []*Report
	ok := true
	for _, p := range proofs {
		rep := Run(ctx, cfg, p)
		reports = append(reports, rep)
		if !rep.OK() {
			ok = false
		}
		if _, err := Record(ctx, cfg.Redis, cfg.Keys, rep, m); err != nil {
			recordFailed(err)
			ok = false
		}
	}
	return reports, ok
}

// ThisRun is the ledger's Meta for a run by this process: the host name,
// version and the build's VCS revision (12 digits), when known.
func ThisRun(version string) Meta {
	m := Meta{Version: version}
	m.Host, _ = os.Hostname()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				m.Commit = s.Value[:12]
			}
		}
	}
	return m
}

// Listed is a proof as `quantum proof list --json` prints it (its keys in
// name order, as they always were).
type Listed struct {
	Name    string       `json:"name"`
	Purpose string       `json:"purpose"`
	Script  string       `json:"script"`
	Tests   []ListedTest `json:"tests"`
}

// ListedTest is one test of a Listed proof.
type ListedTest struct{ Name, Doc string }

// List is every proof and its tests, for `quantum proof list --json`.
func List() []Listed {
	var out []Listed
	for _, p := range All() {
		var ts []ListedTest
		for _, t := range p.Tests {
			ts = append(ts, ListedTest{t.Name, t.Doc})
		}
		out = append(out, Listed{Name: p.Name, Purpose: p.Purpose, Script: p.Script, Tests: ts})
	}
	return out
}

// WriteList writes every proof with its tests as text.
func WriteList(w io.Writer) {
	for _, p := range All() {
		fmt.Fprintf(w, "%s (%d tests, %s)\n  %s\n", p.Name, len(p.Tests), p.Script, p.Purpose)
		tw := texttable.New(w)
		for _, t := range p.Tests {
			fmt.Fprintf(tw, "    %s\t%s\n", t.Name, t.Doc)
		}
		tw.Flush()
	}
}

// WriteRuns writes ledger entries as a table, newest first as given.
func WriteRuns(w io.Writer, entries []Entry) {
	tw := texttable.New(w)
	fmt.Fprintln(tw, "TIME\tPROOF\tRESULT\tPASSED\tFAILED\tSKIPPED\tHOST\tVERSION\tFAILED TESTS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", time.Unix(e.Timestamp, 0).UTC().Format(time.RFC3339), e.Proof, e.Result,
			e.Passed, e.Failed, e.Skipped, e.Host, e.Version, strings.Join(e.FailedTests, ","))
	}
	tw.Flush()
}
