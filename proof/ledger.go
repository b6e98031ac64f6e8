package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// LedgerMaxLen bounds the proof.runs stream (approximately): four proofs a
// day for years.
const LedgerMaxLen = 10000

// Entry is one run of one proof on the ledger stream. Its JSON names are
// the stream's field names.
type Entry struct {
	ID          string   `json:"id"`
	Proof       string   `json:"proof"`
	Script      string   `json:"script"`
	Result      Status   `json:"result"` // PASS when nothing failed
	Passed      int      `json:"passed"`
	Failed      int      `json:"failed"`
	Skipped     int      `json:"skipped"`
	Timestamp   int64    `json:"timestamp"` // unix seconds, when the run started
	Host        string   `json:"host"`
	Version     string   `json:"version"`
	Commit      string   `json:"commit"`
	DurationMS  int64    `json:"duration_ms"`
	FailedTests []string `json:"failed_tests"` // stream field: comma-separated
	Tests       []Result `json:"tests"`        // stream field: JSON list of {test, status, evidence}
}

// Meta says who ran a proof, for the ledger.
type Meta struct {
	Host, Version, Commit string
}

// Record appends rep to the ledger stream of ks.
func Record(ctx context.Context, rdb redis.Cmdable, ks keys.Space, rep *Report, m Meta) (string, error) {
	tests := make([]Result, len(rep.Results))
	for i, t := range rep.Results {
		tests[i] = Result{Test: t.Test, Status: t.Status, Evidence: t.Evidence}
	}
	tj, err := json.Marshal(tests)
	if err != nil {
		return "", fmt.Errorf("encode the tests: %w", err)
	}
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ks.ProofRuns(), MaxLen: LedgerMaxLen, Approx: true, Values: []any{
		"proof", rep.Proof, "script", rep.Script, "result", string(rep.Verdict()),
		"passed", rep.Passed, "failed", rep.Failed, "skipped", rep.Skipped,
		"timestamp", rep.Started.Unix(), "host", m.Host, "version", m.Version, "commit", m.Commit,
		"duration_ms", rep.Duration.Milliseconds(), "failed_tests", strings.Join(rep.FailedTests(), ","),
		"tests", string(tj),
	}}).Result()
	if err != nil {
		return "", fmt.Errorf("append to %s: %w", ks.ProofRuns(), err)
	}
	return id, nil
}

// Entries returns the newest count ledger entries, newest first.
func Entries(ctx context.Context, rdb redis.Cmdable, ks keys.Space, count int64) ([]Entry, error) {
	msgs, err := rdb.XRevRangeN(ctx, ks.ProofRuns(), "+", "-", count).Result()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ks.ProofRuns(), err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		s := func(k string) string { v, _ := m.Values[k].(string); return v }
		n := func(k string) int { v, _ := strconv.Atoi(s(k)); return v }
		e := Entry{ID: m.ID, Proof: s("proof"), Script: s("script"), Result: Status(s("result")),
			Passed: n("passed"), Failed: n("failed"), Skipped: n("skipped"),
			Host: s("host"), Version: s("version"), Commit: s("commit"), FailedTests: []string{}}
		e.Timestamp, _ = strconv.ParseInt(s("timestamp"), 10, 64)
		e.DurationMS, _ = strconv.ParseInt(s("duration_ms"), 10, 64)
		if ft := s("failed_tests"); ft != "" {
			e.FailedTests = strings.Split(ft, ",")
		}
		if tj := s("tests"); tj != "" {
			if err := json.Unmarshal([]byte(tj), &e.Tests); err != nil {
				return nil, fmt.Errorf("ledger entry %s: tests: %w", m.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Latest returns the newest entry of each proof among entries (newest
// first), by proof name.
func Latest(entries []Entry) map[string]Entry {
	out := map[string]Entry{}
	for _, e := range entries {
		if _, ok := out[e.Proof]; !ok {
			out[e.Proof] = e
		}
	}
	return out
}

// WriteMarkdown renders the ledger like the seed's: one section per proof
// with its script, purpose, tests and the status of its newest run.
func WriteMarkdown(w io.Writer, latest map[string]Entry) {
	fmt.Fprintf(w, "# Quantum Trader - Operational Proofs Ledger\n\nGenerated from the proof.runs stream by `quantum proof ledger`; what each test proves: docs/proofs.md.\n")
	for _, p := range All() {
		fmt.Fprintf(w, "\n## %s\n- **Script:** `%s`\n- **Purpose:** %s\n- **Tests:** %d\n", p.Name, p.Script, p.Purpose, len(p.Tests))
		for _, t := range p.Tests {
			fmt.Fprintf(w, "  - `%s`: %s\n", t.Name, t.Doc)
		}
		e, ok := latest[p.Name]
		if !ok {
			fmt.Fprintf(w, "- **Status:** never run\n")
			continue
		}
		ran := e.Passed + e.Failed
		fmt.Fprintf(w, "- **Status:** %s (%d/%d PASS", e.Result, e.Passed, ran)
		if e.Skipped > 0 {
			fmt.Fprintf(w, ", %d SKIP", e.Skipped)
		}
		fmt.Fprintf(w, ")\n")
		if len(e.FailedTests) > 0 {
			fmt.Fprintf(w, "- **Failed:** %s\n", strings.Join(e.FailedTests, ", "))
		}
		fmt.Fprintf(w, "- **Last run:** %s on %s\n- **Version:** %s", time.Unix(e.Timestamp, 0).UTC().Format(time.RFC3339), e.Host, e.Version)
		if e.Commit != "" {
			fmt.Fprintf(w, " (commit %s)", e.Commit)
		}
		fmt.Fprintln(w)
	}
}
