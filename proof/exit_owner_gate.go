package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

// gateState is what exit-owner-gate's setup sent and read.
type gateState struct {
	symbol   string
	position float64 // of symbol on the paper venue; 0 when none is readable
	posNote  string
	c        map[string]*canary
	awaitErr error
}

func exitOwnerGate() *Proof {
	p := &Proof{
		Name:    "exit-owner-gate",
		Script:  "scripts/proof_exit_owner_gate.sh",
		Purpose: "only the exit owner may exit (reduceOnly or opposite-side), sources are authenticated, replays refused: canaries through the live apply layer",
		setup:   gateSetup,
	}
	deny := func(name, doc, code string) Test {
		return Test{Name: name, Doc: doc, Run: func(ctx context.Context, r *run) (Status, string) {
			s := stateOf[gateState](r)
			return expectDenied(s.c[name], code, s.awaitErr)
		}}
	}
	p.Tests = []Test{
		{Name: "auth-required", Doc: "an unsigned canary from the proof's source is DENIED AUTH_MISSING: the live apply layer runs with authentication (--auth off FAILS here)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := stateOf[gateState](r)
				c := s.c["auth-required"]
				if c != nil && c.result != nil && c.result.Decision != plan.Denied {
					return Fail, fmt.Sprintf("unsigned canary %s came back %s %s: the apply layer does not authenticate sources (--auth off?)",
						c.fields[plan.FieldPlanID], c.result.Decision, c.result.Reason)
				}
				return expectDenied(c, "AUTH_MISSING", s.awaitErr)
			}},
		deny("non-owner-reduce-only", "a reduceOnly canary signed by the proof's own (non-owner) key is DENIED DENY_NOT_EXIT_OWNER", "DENY_NOT_EXIT_OWNER"),
		{Name: "non-owner-opposite-side", Doc: "a canary without reduceOnly on the side opposite to an open paper position is an exit, DENIED DENY_NOT_EXIT_OWNER (SKIP when no position is readable)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := stateOf[gateState](r)
				if s.position == 0 {
					return Skip, "no open position to oppose: " + s.posNote
				}
				return expectDenied(s.c["non-owner-opposite-side"], "DENY_NOT_EXIT_OWNER", s.awaitErr)
			}},
		{Name: "forged-owner", Doc: "a reduceOnly canary naming the exit owner as source but signed with another source's key is DENIED AUTH_INVALID",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := stateOf[gateState](r)
				c := s.c["forged-owner"]
				if c != nil && c.result != nil && c.result.Reason == reason.AuthUnknownSource {
					return Fail, fmt.Sprintf("plan %s DENIED AUTH_UNKNOWN_SOURCE: the apply layer's keyring does not list the exit owner %s, so its own exits are denied too", c.fields[plan.FieldPlanID], r.ExitOwner)
				}
				return expectDenied(c, "AUTH_INVALID", s.awaitErr)
			}},
		deny("unsigned-owner", "an unsigned reduceOnly canary naming the exit owner is DENIED AUTH_MISSING", "AUTH_MISSING"),
		deny("unknown-source", "a canary from a source the keyring does not list is DENIED AUTH_UNKNOWN_SOURCE", "AUTH_UNKNOWN_SOURCE"),
		deny("stale-timestamp", "a canary stamped an hour ago is DENIED PLAN_EXPIRED", "PLAN_EXPIRED"),
		deny("replay", "the passing canary sent again on a new entry, same plan_id and signature, is DENIED PLAN_REPLAYED", "PLAN_REPLAYED"),
		{Name: "canary-not-executed", Doc: "a canary that passes every gate comes back SKIPPED, canary=true, executed=false, with no exchange order",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := stateOf[gateState](r)
				c := s.c["canary-pass"]
				if c == nil || c.result == nil {
					return Fail, fmt.Sprintf("passing canary: %v", s.awaitErr)
				}
				res := c.result
				id := c.fields[plan.FieldPlanID]
				switch {
				case res.Decision == plan.Executed || res.Executed || res.ExchangeOrderID != "":
					return Fail, fmt.Sprintf("canary %s was EXECUTED (exchange_order_id=%q): canaries must never reach a venue", id, res.ExchangeOrderID)
				case !res.Canary:
					return Fail, fmt.Sprintf("canary %s: result has canary=false, want true", id)
				case res.Decision != plan.Skipped:
					return Fail, fmt.Sprintf("canary %s from %s (BUY %s) came back %s %s, want SKIPPED (passed every gate)", id, r.ProofSource, s.symbol, res.Decision, res.Reason)
				}
				return Pass, fmt.Sprintf("canary %s SKIPPED canary=true executed=false after %s: %s", id, c.after.Round(time.Millisecond), res.Detail)
			}},
	}
	return p
}

// gateSetup sends every canary of the proof at once, then the replay, and
// reads their results.
func gateSetup(ctx context.Context, r *run) error {
	if r.ProofKeyErr != nil || len(r.ProofSecret) == 0 {
		return fmt.Errorf("no canary key: %v (set QUANTUM_PROOF_KEY_FILE to the quantum_proof keyring line)", r.ProofKeyErr)
	}
	if r.ProofSource == r.ExitOwner {
		return fmt.Errorf("the proof key's source %q is the exit owner: the proof needs a non-owner source (quantum_proof)", r.ProofSource)
	}
	s := &gateState{c: map[string]*canary{}}
	r.state = s
	s.symbol = liveSymbol(ctx, r)
	s.position, s.posNote = paperPosition(ctx, r, s.symbol)
	owner := r.ExitOwner
	sign := func(f map[string]string) map[string]string { return plan.SignFields(f, r.ProofSecret) }
	opposite := "SELL"
	if s.position < 0 {
		opposite = "BUY"
	}
	plans := map[string]map[string]string{
		"canary-pass":           sign(r.canaryFields("pass", s.symbol, "BUY", false)),
		"auth-required":         r.canaryFields("unsigned", s.symbol, "BUY", false),
		"non-owner-reduce-only": sign(r.canaryFields("reduce", s.symbol, "SELL", true)),
		"forged-owner": func() map[string]string {
			f := r.canaryFields("forged", s.symbol, "SELL", true)
			f[plan.FieldSource] = owner
			return sign(f)
		}(),
		"unsigned-owner": func() map[string]string {
			f := r.canaryFields("unsigned-owner", s.symbol, "SELL", true)
			f[plan.FieldSource] = owner
			return f
		}(),
		"unknown-source": func() map[string]string {
			f := r.canaryFields("unknown", s.symbol, "BUY", false)
			f[plan.FieldSource] = "proof_unknown_" + r.id
			return sign(f)
		}(),
		"stale-timestamp": func() map[string]string {
			f := r.canaryFields("stale", s.symbol, "BUY", false)
			f[plan.FieldTimestamp] = strconv.FormatInt(r.Now().Add(-time.Hour).Unix(), 10)
			return sign(f)
		}(),
	}
	if s.position != 0 {
		plans["non-owner-opposite-side"] = sign(r.canaryFields("opposite", s.symbol, opposite, false))
	}
	var sent []*canary
	for _, name := range slices.Sorted(maps.Keys(plans)) {
		c, err := r.send(ctx, plans[name])
		if err != nil {
			return err
		}
		s.c[name] = c
		sent = append(sent, c)
	}
	if s.awaitErr = r.await(ctx, sent...); s.awaitErr != nil {
		return nil // each test reports its own missing result
	}
	// The replay goes once the original's result is written: the same
	// fields, signature included, on a new entry.
	c, err := r.send(ctx, plans["canary-pass"])
	if err != nil {
		return err
	}
	s.c["replay"] = c
	s.awaitErr = r.await(ctx, c)
	return nil
}

// liveSymbol returns the first universe symbol of the live policy hash
// (read as it is, so that the canaries go even when the policy is broken:
// the gate's verdict on them then says so).
func liveSymbol(ctx context.Context, r *run) string {
	raw, err := r.Redis.HGet(ctx, r.Keys.PolicyCurrent(), "universe_symbols").Result()
	if err == nil {
		var syms []string
		if json.Unmarshal([]byte(raw), &syms) == nil && len(syms) > 0 {
			return syms[0]
		}
	}
	return "BTCUSDT"
}

// paperPosition reads the open position of symbol on the paper venue, read
// only. Positions of a live exchange are not readable by the proof.
func paperPosition(ctx context.Context, r *run, symbol string) (float64, string) {
	venue, err := paper.New(r.Redis, r.Keys, nil) // reads only: no marks needed
	if err != nil {
		return 0, err.Error()
	}
	s, found, err := venue.PositionAmount(ctx, symbol)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("paper position of %s: %v", symbol, err)
	case !found:
		return 0, fmt.Sprintf("no paper position in %s (a live exchange's positions are not readable by the proof)", symbol)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v == 0 {
		return 0, fmt.Sprintf("paper position of %s is %q", symbol, s)
	}
	return v, ""
}
