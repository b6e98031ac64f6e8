package main

import (
	"context"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

func init() {
	register(&command{
		name:    "policy verify",
		summary: "check that a valid, fresh, correctly signed policy is live",
		help: `Reads quantum:policy:current exactly as the apply layer does and prints one line.

Exit status: 0 when a valid, fresh policy signed by a trusted key is live;
1 otherwise, printing the reason code (POLICY_MISSING, POLICY_MISSING_FIELD,
POLICY_HASH_MISMATCH, POLICY_SIGNATURE_INVALID, POLICY_STALE, ...) and why.`,
		run: runPolicyVerify,
	})
}

func runPolicyVerify(ctx context.Context, c *invocation) int {
	pubkeys := c.fs.String("pubkey", c.env.getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	skew := c.fs.Duration("clock-skew", policystore.DefaultClockSkew, "how far issued_at_epoch may lie ahead of this clock")
	asJSON := c.fs.Bool("json", false, "print the result as JSON")
	if code, ok := c.parse(0); !ok {
		// Anything but a verified policy is exit 1 for verify (SPEC.md).
		if code == exitUsage {
			return exitFail
		}
		return code
	}
	sp, err := loadVerified(ctx, c, *pubkeys, *skew)
	now := c.env.clock()()
	if err != nil {
		code := reason.CodeOf(err)
		if code == "" {
			code = reason.PolicyUnavailable
		}
		if *asJSON {
			writeJSON(c.env.stdout, map[string]any{"ok": false, "reason": code, "error": err.Error()})
		} else {
			fmt.Fprintf(c.env.stdout, "%s %v\n", code, trimCode(err, code))
		}
		return exitFail
	}
	remaining := int64(sp.Remaining(now) / time.Second)
	if *asJSON {
		writeJSON(c.env.stdout, map[string]any{
			"ok": true, "policy_version": sp.Version, "policy_seq": sp.Seq, "policy_hash": sp.Hash,
			"key_id": sp.KeyID, "trading_state": sp.TradingState, "valid_until_epoch": sp.ValidUntil,
			"remaining_sec": remaining,
		})
		return exitOK
	}
	fmt.Fprintf(c.env.stdout, "OK policy_version=%s policy_seq=%d policy_hash=%s key_id=%s trading_state=%s valid_until=%s remaining_sec=%d\n",
		sp.Version, sp.Seq, sp.Hash, sp.KeyID, sp.TradingState, time.Unix(sp.ValidUntil, 0).UTC().Format(time.RFC3339), remaining)
	return exitOK
}

// loadVerified loads the live policy with the keys of pubkeys. A missing or
// unreadable key file fails closed like any other refusal.
func loadVerified(ctx context.Context, c *invocation, pubkeys string, skew time.Duration) (*policy.Signed, error) {
	paths := policy.SplitPaths(pubkeys)
	if len(paths) == 0 {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "no trusted public key: pass --pubkey FILE or set QUANTUM_POLICY_PUBKEY")
	}
	ring, err := policy.LoadKeyring(paths...)
	if err != nil {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "%w", err)
	}
	rdb, err := c.redis()
	if err != nil {
		return nil, reason.Errorf(reason.PolicyUnavailable, "%w", err)
	}
	defer rdb.Close()
	store, err := policystore.New(rdb, policystore.Options{Keys: c.keys(), Keyring: ring, Now: c.env.clock(), ClockSkew: skew})
	if err != nil {
		return nil, err
	}
	return store.Load(ctx)
}

// trimCode returns err's text without its leading "CODE: ".
func trimCode(err error, code reason.Code) string {
	s := err.Error()
	if p := string(code) + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
