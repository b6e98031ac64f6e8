package proof

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// scratchPolicy is a valid policy published in a scratch namespace with a
// key generated for the run.
type scratchPolicy struct {
	ks     keys.Space
	key    *policy.PrivateKey
	ring   *policy.TrustedKeys
	fields map[string]string // the stored hash
}

// scratchContent is the policy content the scratch tests publish.
func scratchContent() *policy.Content {
	return &policy.Content{
		UniverseSymbols:  []string{"BTCUSDT", "ETHUSDT"},
		LeverageBySymbol: map[string]float64{"BTCUSDT": 10, "ETHUSDT": 6},
		HarvestParams:    map[string]float64{"take_profit_pct": 2},
		KillParams:       map[string]float64{"max_drawdown_pct": 5},
		PolicyVersion:    "proof-scratch",
		TradingState:     policy.StateActive,
		Generator:        "quantum-proof",
	}
}

func newScratchPolicy(ctx context.Context, r *run) (*scratchPolicy, error) {
	key, err := policy.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("scratch key: %w", err)
	}
	sp := &scratchPolicy{ks: r.newScratch(), key: key, ring: policy.NewTrustedKeys(key.Public())}
	st, err := sp.store(r)
	if err != nil {
		return nil, err
	}
	if _, _, err := st.SignAndPublish(ctx, scratchContent(), key, policystore.Release{Seq: 10, Validity: 2 * time.Hour, Actor: "quantum-proof"}); err != nil {
		return nil, fmt.Errorf("publish the scratch policy: %w", err)
	}
	if sp.fields, err = r.Redis.HGetAll(ctx, sp.ks.PolicyCurrent()).Result(); err != nil {
		return nil, fmt.Errorf("read the scratch policy: %w", err)
	}
	return sp, nil
}

// store returns a fresh store (no accepted seq yet) over the scratch namespace.
func (sp *scratchPolicy) store(r *run) (*policystore.Store, error) {
	return policystore.New(r.Redis, policystore.Options{Keys: sp.ks, Keyring: sp.ring, Now: r.Now})
}

// put replaces the scratch policy hash with fields.
func (sp *scratchPolicy) put(ctx context.Context, r *run, fields map[string]string) error {
	pipe := r.Redis.TxPipeline()
	pipe.Del(ctx, sp.ks.PolicyCurrent())
	if len(fields) > 0 {
		pipe.HSet(ctx, sp.ks.PolicyCurrent(), fields)
	}
	_, err := pipe.Exec(ctx)
	return err
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// brokenCase is one broken policy and the code the reader must deny with.
type brokenCase struct {
	name, doc string
	code      reason.Code
	// mutate returns the broken hash from a valid one (sp signs when needed).
	mutate func(sp *scratchPolicy, f map[string]string) map[string]string
}

func policyFailClosed() *Proof {
	p := &Proof{
		Name:    "policy-fail-closed",
		Script:  "scripts/proof_policy_fail_closed.sh",
		Purpose: "the live policy verifies and is fresh; every broken policy is denied with its reason code by the real store and gate, never replaced by a default",
		setup: func(ctx context.Context, r *run) error {
			sp, err := newScratchPolicy(ctx, r)
			if err != nil {
				return err
			}
			r.state = sp
			return nil
		},
	}
	p.Tests = []Test{
		{Name: "live-policy-verifies", Doc: "the live policy hash verifies (hash, Ed25519 signature by a key of QUANTUM_POLICY_PUBKEY, every field) through the real store",
			Run: func(ctx context.Context, r *run) (Status, string) {
				sp, err := loadLive(ctx, r)
				if err != nil {
					return Fail, fmt.Sprintf("live policy %s refused: %s: %v", r.Keys.PolicyCurrent(), reason.CodeOf(err), err)
				}
				return Pass, fmt.Sprintf("%s verifies: policy_version=%s policy_seq=%d key_id=%s trading_state=%s", r.Keys.PolicyCurrent(), sp.Version, sp.Seq, sp.KeyID, sp.TradingState)
			}},
		{Name: "live-policy-fresh", Doc: "the live policy stays valid for more than 30 minutes",
			Run: func(ctx context.Context, r *run) (Status, string) { return liveFresh(ctx, r) }},
	}
	for _, bc := range brokenCases() {
		p.Tests = append(p.Tests, Test{Name: bc.name, Doc: bc.doc, Run: func(ctx context.Context, r *run) (Status, string) {
			sp := stateOf[scratchPolicy](r)
			if err := sp.put(ctx, r, bc.mutate(sp, clone(sp.fields))); err != nil {
				return Fail, "write the broken scratch policy: " + err.Error()
			}
			st, err := sp.store(r)
			if err != nil {
				return Fail, err.Error()
			}
			return judgeDenial(ctx, r, st, bc.code)
		}})
	}
	p.Tests = append(p.Tests,
		Test{Name: "rollback", Doc: "after the store accepted policy_seq 10, a validly signed policy with policy_seq 9 is denied POLICY_ROLLBACK",
			Run: func(ctx context.Context, r *run) (Status, string) {
				sp := stateOf[scratchPolicy](r)
				st, err := sp.store(r)
				if err != nil {
					return Fail, err.Error()
				}
				if err := sp.put(ctx, r, sp.fields); err != nil {
					return Fail, err.Error()
				}
				if _, err := st.Load(ctx); err != nil {
					return Fail, fmt.Sprintf("the valid scratch policy (seq 10) was refused: %v", err)
				}
				older := clone(sp.fields)
				older["policy_seq"] = "9"
				if err := sp.put(ctx, r, policy.SignFields(older, sp.key)); err != nil {
					return Fail, err.Error()
				}
				return judgeDenial(ctx, r, st, reason.PolicyRollback)
			}},
		Test{Name: "redis-unavailable", Doc: "a reader whose Redis cannot be reached is denied POLICY_UNAVAILABLE, not served a cached or default policy",
			Run: func(ctx context.Context, r *run) (Status, string) {
				sp := stateOf[scratchPolicy](r)
				down := unreachableRedis()
				defer down.Close()
				st, err := policystore.New(down, policystore.Options{Keys: sp.ks, Keyring: sp.ring, Now: r.Now})
				if err != nil {
					return Fail, err.Error()
				}
				return judgeDenial(ctx, r, st, reason.PolicyUnavailable)
			}},
	)
	return p
}

func brokenCases() []brokenCase {
	resign := func(sp *scratchPolicy, f map[string]string) map[string]string { return policy.SignFields(f, sp.key) }
	return []brokenCase{
		{"missing-policy", "no policy hash at all is denied POLICY_MISSING", reason.PolicyMissing,
			func(*scratchPolicy, map[string]string) map[string]string { return nil }},
		{"missing-field", "a signed policy without leverage_by_symbol is denied POLICY_MISSING_FIELD", reason.PolicyMissingField,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				delete(f, "leverage_by_symbol")
				return resign(sp, f)
			}},
		{"bad-json", "a signed policy whose universe_symbols is not JSON is denied POLICY_PARSE_ERROR", reason.PolicyParseError,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				f["universe_symbols"] = `["BTCUSDT",`
				return resign(sp, f)
			}},
		{"invalid-content", "a signed policy with leverage 500 is denied POLICY_INVALID", reason.PolicyInvalid,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				f["leverage_by_symbol"] = `{"BTCUSDT":500,"ETHUSDT":6}`
				return resign(sp, f)
			}},
		{"tampered-field", "a field changed after signing (leverage 10 -> 50) is denied POLICY_HASH_MISMATCH", reason.PolicyHashMismatch,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				f["leverage_by_symbol"] = `{"BTCUSDT":50,"ETHUSDT":6}`
				return f
			}},
		{"bad-signature", "a policy signed by a key the reader does not trust is denied POLICY_SIGNATURE_INVALID", reason.PolicySignatureInvalid,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				other, err := policy.GenerateKey()
				if err != nil {
					panic(err)
				}
				return policy.SignFields(f, other)
			}},
		{"unsigned", "a policy without signature and key_id is denied POLICY_UNSIGNED", reason.PolicyUnsigned,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				delete(f, "signature")
				delete(f, "key_id")
				return f
			}},
		{"stale", "a validly signed policy whose valid_until_epoch has passed is denied POLICY_STALE", reason.PolicyStale,
			func(sp *scratchPolicy, f map[string]string) map[string]string {
				f["issued_at_epoch"] = strconv.FormatInt(time.Now().Add(-3*time.Hour).Unix(), 10)
				f["valid_until_epoch"] = strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
				return resign(sp, f)
			}},
	}
}

// judgeDenial loads the scratch policy through st and feeds the outcome to
// the real gate with a plan the valid policy would allow: both must deny
// with want, and the store must return no policy at all.
func judgeDenial(ctx context.Context, r *run, st *policystore.Store, want reason.Code) (Status, string) {
	sp, err := st.Load(ctx)
	if err == nil || sp != nil {
		return Fail, fmt.Sprintf("the store returned a policy (%v) instead of denying %s", sp != nil, want)
	}
	if got := reason.CodeOf(err); got != want {
		return Fail, fmt.Sprintf("the store denied %s, want %s: %v", got, want, err)
	}
	pl, perr := plan.Parse(map[string]string{
		plan.FieldPlanID: "proof-gate-" + r.id, plan.FieldDecision: "EXECUTE", plan.FieldSymbol: "BTCUSDT", plan.FieldSide: "BUY",
		plan.FieldType: "MARKET", plan.FieldQty: "0.001", plan.FieldReduceOnly: "false", plan.FieldSource: "quantum_proof",
		plan.FieldTimestamp: strconv.FormatInt(r.Now().Unix(), 10),
	})
	if perr != nil {
		return Fail, "build the gate's plan: " + perr.Error()
	}
	d := gate.Check(gate.Input{Plan: pl, PolicyErr: err, Now: r.Now()}, gate.Config{ExitOwner: r.ExitOwner})
	if d.Allow || d.Code != want {
		return Fail, fmt.Sprintf("the store denied %s but the gate decided allow=%v code=%s", want, d.Allow, d.Code)
	}
	return Pass, fmt.Sprintf("store and gate both deny %s, no policy returned: %v", want, err)
}

// loadLive verifies the live policy with the deployment's trusted keys.
func loadLive(ctx context.Context, r *run) (*policy.Signed, error) {
	if r.PolicyKeys == nil {
		return nil, fmt.Errorf("no trusted policy keys: %v (set QUANTUM_POLICY_PUBKEY)", r.PolicyKeysErr)
	}
	st, err := policystore.New(r.Redis, policystore.Options{Keys: r.Keys, Keyring: r.PolicyKeys, Now: r.Now})
	if err != nil {
		return nil, err
	}
	return st.Load(ctx)
}

// minFresh is how long the live policy must stay valid (SPEC.md).
const minFresh = 30 * time.Minute

func liveFresh(ctx context.Context, r *run) (Status, string) {
	raw, err := r.Redis.HGet(ctx, r.Keys.PolicyCurrent(), "valid_until_epoch").Result()
	if err != nil {
		return Fail, fmt.Sprintf("read valid_until_epoch of %s: %v", r.Keys.PolicyCurrent(), err)
	}
	vu, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return Fail, fmt.Sprintf("valid_until_epoch %q is not a number", raw)
	}
	left := time.Unix(vu, 0).Sub(r.Now()).Round(time.Second)
	if left <= minFresh {
		if left <= 0 {
			return Fail, fmt.Sprintf("the live policy expired %s ago (valid_until %s): POLICY_STALE", -left, time.Unix(vu, 0).UTC().Format(time.RFC3339))
		}
		return Fail, fmt.Sprintf("the live policy has %s of validity left, want more than %s", left, minFresh)
	}
	return Pass, fmt.Sprintf("valid_until %s: %s left (> %s)", time.Unix(vu, 0).UTC().Format(time.RFC3339), left, minFresh)
}
