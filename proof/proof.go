// Package proof is the runner of the operational proofs: named lists of
// tests that exercise the live deployment's behaviour and say PASS, FAIL or
// SKIP, each with one line of evidence (what was observed).
//
// A proof never reads source code and never changes what production relies
// on. It works in three ways only:
//
//   - scratch namespaces: a random prefix (ScratchPrefix + random hex) on the
//     same Redis, where the real store, gate, refresh and watch run against
//     keys of their own; every key of that prefix is deleted afterwards, found
//     by SCAN of that prefix only;
//   - canary plans (canary=true) signed with the quantum_proof key, sent to the
//     live apply layer, which runs every gate on them and records them but
//     never sends them to a venue: these canaries and their results are the one
//     thing a proof adds to production streams (besides its own ledger entry);
//   - read-only reads of the live policy, results, alerts, audit trail and
//     heartbeats.
//
// Plan ids are unique per run and no test depends on an earlier run, so a
// rerun gives the same verdict. Each run of a proof is appended to the ledger
// stream (keys.Space.ProofRuns) by Record.
package proof

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
)

// Status is a test's verdict.
type Status string

// Verdicts.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is one test's verdict and its evidence: one line saying what was
// observed (or, for SKIP, why the test could not run here).
type Result struct {
	Test     string        `json:"test"`
	Status   Status        `json:"status"`
	Evidence string        `json:"evidence"`
	Duration time.Duration `json:"duration_ns"`
}

// Test is one behaviour a proof checks.
type Test struct {
	Name string // short kebab-case name, unique in its proof
	Doc  string // what it exercises, one sentence
	Run  func(ctx context.Context, r *run) (Status, string)
}

// Proof is a named list of tests, one script of the ledger.
type Proof struct {
	Name    string // such as policy-fail-closed
	Script  string // the ledger's wrapper, such as scripts/proof_policy_fail_closed.sh
	Purpose string // one line for the ledger
	// setup runs before the tests (a scratch namespace, canaries sent in a
	// batch); its error fails every test with that error.
	setup func(ctx context.Context, r *run) error
	Tests []Test
}

// Config is what the proofs know of the deployment, from the environment of
// SPEC.md.
type Config struct {
	Redis redis.UniversalClient
	Keys  keys.Space // the live namespace (QUANTUM_PREFIX)

	// PolicyKeys are the trusted policy keys (QUANTUM_POLICY_PUBKEY); when
	// nil, PolicyKeysErr says why and the tests that need them fail.
	PolicyKeys    *policy.TrustedKeys
	PolicyKeysErr error
	// ProofSource and ProofSecret are the keyring line of
	// QUANTUM_PROOF_KEY_FILE, which signs canary plans; when empty,
	// ProofKeyErr says why.
	ProofSource string
	ProofSecret []byte
	ProofKeyErr error

	ExitOwner string // the apply layer's exit owner (QUANTUM_EXIT_OWNER)
	// ResultKey, when set, authenticates canary results: one whose
	// result_mac does not verify is not believed (QUANTUM_RESULT_KEY).
	ResultKey       []byte
	CanaryTimeout   time.Duration // how long to wait for a canary's result
	RefreshInterval time.Duration // the refresh timer's period (QUANTUM_POLICY_REFRESH_INTERVAL)
	// Systemctl runs systemctl with args and returns its trimmed output;
	// nil means the real one. Timer tests SKIP when systemd is absent.
	Systemctl func(ctx context.Context, args ...string) (string, error)
	// HasSystemd reports whether systemd runs this host; nil means the
	// real check (/run/systemd/system and systemctl on PATH).
	HasSystemd func() bool
	Now        func() time.Time
	Log        *slog.Logger
}

// run is one run of one proof: the config and what setup prepared.
type run struct {
	Config
	proof   *Proof
	id      string // unique per run: in plan ids and scratch prefixes
	scratch []keys.Space
	state   any // the proof's own state, set by its setup (one type per proof: stateOf)
}

// stateOf returns the state the proof's setup stored in r, as its one type.
// A test of a proof whose setup failed never reaches it (the setup error
// fails every test); a wrong type is a programming error, and its panic is
// the test's FAIL.
func stateOf[T any](r *run) *T {
	return r.state.(*T)
}

// Report is the outcome of one proof's run.
type Report struct {
	Proof    string        `json:"proof"`
	Script   string        `json:"script"`
	Results  []Result      `json:"results"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
}

// OK reports whether nothing failed.
func (r *Report) OK() bool { return r.Failed == 0 }

// Verdict is PASS when no test failed, else FAIL.
func (r *Report) Verdict() Status {
	if r.OK() {
		return Pass
	}
	return Fail
}

// FailedTests lists the names of the failed tests.
func (r *Report) FailedTests() []string {
	var out []string
	for _, t := range r.Results {
		if t.Status == Fail {
			out = append(out, t.Test)
		}
	}
	return out
}

// All returns the proofs of the ledger, in the ledger's order.
func All() []*Proof {
	return []*Proof{policyFailClosed(), exitOwnerGate(), policyRefresh(), exitOwnerWatch()}
}

// Lookup returns the proof named name, or nil.
func Lookup(name string) *Proof {
	for _, p := range All() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Names lists the proofs' names.
func Names() []string {
	var out []string
	for _, p := range All() {
		out = append(out, p.Name)
	}
	return out
}

// Run runs p's tests one after the other and returns its report. A test's
// panic is its FAIL, never the runner's.
func Run(ctx context.Context, cfg Config, p *Proof) *Report {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CanaryTimeout <= 0 {
		cfg.CanaryTimeout = 10 * time.Second
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 30 * time.Minute
	}
	r := &run{Config: cfg, proof: p, id: newID()}
	rep := &Report{Proof: p.Name, Script: p.Script, Started: cfg.Now()}
	start := time.Now()
	defer r.cleanup()
	var setupErr error
	if p.setup != nil {
		setupErr = p.setup(ctx, r)
	}
	for _, t := range p.Tests {
		t0 := time.Now()
		var st Status
		var ev string
		if setupErr != nil {
			st, ev = Fail, "setup failed: "+setupErr.Error()
		} else {
			st, ev = runTest(ctx, r, t)
		}
		res := Result{Test: t.Name, Status: st, Evidence: oneLine(ev), Duration: time.Since(t0)}
		rep.Results = append(rep.Results, res)
		switch st {
		case Pass:
			rep.Passed++
		case Skip:
			rep.Skipped++
		default:
			rep.Failed++
		}
		cfg.Log.Debug("proof test", "proof", p.Name, "test", t.Name, "status", st, "evidence", res.Evidence)
	}
	rep.Duration = time.Since(start)
	cfg.Log.Info("proof run", "proof", p.Name, "result", rep.Verdict(), "passed", rep.Passed, "failed", rep.Failed, "skipped", rep.Skipped)
	return rep
}

func runTest(ctx context.Context, r *run, t Test) (st Status, ev string) {
	defer func() {
		if v := recover(); v != nil {
			st, ev = Fail, fmt.Sprintf("test panicked: %v", v)
		}
	}()
	st, ev = t.Run(ctx, r)
	if st != Pass && st != Skip {
		st = Fail
	}
	return st, ev
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:397] + "..."
	}
	return s
}

func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ScratchPrefix starts every scratch namespace's prefix.
const ScratchPrefix = "proof-scratch-"

// newScratch returns a fresh scratch namespace, deleted when the run ends.
// Its prefix holds a hash tag, proof-scratch-{ID-N}, so that on a Redis
// Cluster all of its keys share a slot, as the scripts run in it need.
func (r *run) newScratch() keys.Space {
	ks := keys.MustNew(fmt.Sprintf("%s{%s-%d}", ScratchPrefix, r.id, len(r.scratch)))
	r.scratch = append(r.scratch, ks)
	return ks
}

// cleanup deletes every key of the run's scratch namespaces, found by SCAN
// of each scratch prefix only: nothing else is ever deleted.
func (r *run) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ks := range r.scratch {
		if err := DeleteScratch(ctx, r.Redis, ks); err != nil {
			r.Log.Warn("proof: scratch namespace not deleted", "prefix", ks.Prefix(), "error", err)
		}
	}
}

// DeleteScratch deletes every key under a scratch namespace. It refuses any
// prefix that does not start with ScratchPrefix, so that it cannot reach a
// production key.
func DeleteScratch(ctx context.Context, rdb redis.UniversalClient, ks keys.Space) error {
	if !strings.HasPrefix(ks.Prefix(), ScratchPrefix) || strings.ContainsAny(ks.Prefix(), "*?[]\\") {
		return fmt.Errorf("proof: refusing to delete under %q: not a scratch prefix", ks.Prefix())
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		// SCAN walks one node: walk every master.
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return deleteScan(ctx, c, ks) })
	}
	return deleteScan(ctx, rdb, ks)
}

func deleteScan(ctx context.Context, rdb redis.Cmdable, ks keys.Space) error {
	var cursor uint64
	for {
		found, next, err := rdb.Scan(ctx, cursor, ks.Prefix()+":*", 500).Result()
		if err != nil {
			return fmt.Errorf("scan scratch namespace: %w", err)
		}
		if len(found) > 0 {
			if err := rdb.Del(ctx, found...).Err(); err != nil {
				return fmt.Errorf("delete scratch keys: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// scratchLog is the logger of the refresh and watch runs in scratch
// namespaces: silent, since their deliberate refusals and alerts would read
// as production's [POLICY-REFRESH] and [EXIT-OWNER-WATCH] lines in the
// journal. Their outcomes are the tests' evidence instead.
var scratchLog = slog.New(slog.DiscardHandler)

// unreachableRedis returns a client whose every dial fails: what a reader
// sees when Redis is down, without touching the real server.
func unreachableRedis() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "redis.invalid:6379", MaxRetries: -1,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("proof: Redis made unreachable on purpose")
		}})
}

// planID returns a plan id unique to this run and test.
func (r *run) planID(test string) string {
	return fmt.Sprintf("proof-%s-%s-%s", r.id, test, newID()[:4])
}
