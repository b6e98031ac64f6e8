package main

import (
	"context"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy verify",
		Summary: "check that a valid, fresh, correctly signed policy is live",
		Help: `Reads quantum:policy:current exactly as the apply layer does and prints one line.

When the policy verifies but has less than --expiry-alarm of validity left,
it raises POLICY_EXPIRING on quantum:stream:alerts, deduplicated with the
refresh's own expiry alarm (one alert per incident, re-notified every
--repeat-interval); with more left, it resolves a firing one. --expiry-alarm 0
turns this off (a reader with a read-only Redis user). The alarm is logged on
stderr and does not change the exit status; a failure to raise it is logged
as an error.

Exit status: 0 when a valid, fresh policy signed by a trusted key is live;
1 otherwise, printing the reason code (POLICY_MISSING, POLICY_MISSING_FIELD,
POLICY_HASH_MISMATCH, POLICY_SIGNATURE_INVALID, POLICY_STALE, ...) and why;
POLICY_KEY_UNAVAILABLE when a --pubkey file is missing, unreadable, writable
by others or holds no key (the reader's setup, not the policy).
Policies signed over quantum-policy/v1 are refused unless the environment
sets QUANTUM_POLICY_ENCODINGS=v1,v2 (docs/policy.md: moving from v1 to v2).
POLICY_ROLLBACK: the live policy is older than the newest published one
(policy.update / policy.audit) or than the apply layer's high-water mark
(quantum:apply:policy:highwater): an older, still validly signed policy has
been restored over a newer one.`,
		Run: runPolicyVerify,
	})
}

func runPolicyVerify(ctx context.Context, c *cli.Invocation) int {
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	skew := c.FS.Duration("clock-skew", policystore.DefaultClockSkew, "how far issued_at_epoch may lie ahead of this clock")
	asJSON := c.FS.Bool("json", false, "print the result as JSON")
	ef := cli.NewEnvFlags(c)
	alarm, repeat := alarmFlags(ef)
	if code, ok := c.Parse(0); !ok {
		// Anything but a verified policy is exit 1 for verify (SPEC.md).
		if code == cli.ExitUsage {
			return cli.ExitFail
		}
		return code
	}
	if !ef.Check(c.Env.Stderr) {
		return cli.ExitFail
	}
	sp, err := loadVerified(ctx, c, *pubkeys, *skew)
	now := c.Env.Clock()()
	if err != nil {
		code := reason.CodeOf(err)
		if code == "" {
			code = reason.PolicyUnavailable
		}
		if *asJSON {
			writeJSON(c.Env.Stdout, map[string]any{"ok": false, "reason": code, "error": err.Error()})
		} else {
			fmt.Fprintf(c.Env.Stdout, "%s %v\n", code, trimCode(err, code))
		}
		return cli.ExitFail
	}
	remaining := int64(sp.Remaining(now) / time.Second)
	expiry := checkExpiry(ctx, c, sp, now, *alarm, *repeat)
	if *asJSON {
		writeJSON(c.Env.Stdout, map[string]any{
			"ok": true, "policy_version": sp.Version, "policy_seq": sp.Seq, "policy_hash": sp.Hash,
			"key_id": sp.KeyID, "trading_state": sp.TradingState, "valid_until_epoch": sp.ValidUntil,
			"remaining_sec": remaining, "expiring": *alarm > 0 && sp.Remaining(now) < *alarm, "expiry_alert": expiry.Outcome,
		})
		return cli.ExitOK
	}
	fmt.Fprintf(c.Env.Stdout, "OK policy_version=%s policy_seq=%d policy_hash=%s key_id=%s trading_state=%s valid_until=%s remaining_sec=%d\n",
		sp.Version, sp.Seq, sp.Hash, sp.KeyID, sp.TradingState, time.Unix(sp.ValidUntil, 0).UTC().Format(time.RFC3339), remaining)
	return cli.ExitOK
}

// checkExpiry runs the expiry alarm on a verified policy and logs what it
// did (package refresh, ExpiryAlarm). Its errors are logged, not returned:
// verify's exit status speaks of the policy.
func checkExpiry(ctx context.Context, c *cli.Invocation, sp *policy.Signed, now time.Time, threshold, repeat time.Duration) alert.Result {
	if threshold <= 0 {
		return alert.Result{}
	}
	const tag = "[POLICY-EXPIRY]"
	log := c.Logger()
	if left := sp.Remaining(now); left < threshold {
		log.Warn(fmt.Sprintf("%s POLICY_EXPIRING: policy_seq=%d valid_until=%d remaining_sec=%d threshold_sec=%d",
			tag, sp.Seq, sp.ValidUntil, int64(left/time.Second), int64(threshold/time.Second)))
	}
	rdb, err := c.Redis()
	if err != nil {
		alert.LogResult(log, tag, alert.TypePolicyExpiring, alert.Result{}, err)
		return alert.Result{}
	}
	defer rdb.Close()
	alerts, err := alert.New(rdb, alert.Options{Keys: c.Keys(), Now: c.Env.Clock()})
	var res alert.Result
	if err == nil {
		res, err = refresh.ExpiryAlarm{Alerts: alerts, Threshold: threshold, Repeat: repeat}.Check(ctx, sp, nil, now)
	}
	alert.LogResult(log, tag, alert.TypePolicyExpiring, res, err)
	return res
}

// loadVerified loads the live policy with the keys of pubkeys and checks it
// against the audit trail and the rollback memory (POLICY_ROLLBACK). A
// missing or unreadable key file fails closed like any other refusal.
func loadVerified(ctx context.Context, c *cli.Invocation, pubkeys string, skew time.Duration) (*policy.Signed, error) {
	paths := secretfile.SplitList(pubkeys)
	if len(paths) == 0 {
		return nil, reason.Errorf(reason.PolicyKeyUnavailable, "no trusted public key: pass --pubkey FILE or set QUANTUM_POLICY_PUBKEY")
	}
	ring, err := policy.LoadTrustedKeys(paths...) // POLICY_KEY_UNAVAILABLE
	if err != nil {
		return nil, err
	}
	if ring, err = withPolicyEncodings(c, ring); err != nil {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "%w", err)
	}
	store, closeStore, err := policyStore(c, ring, skew)
	if err != nil {
		return nil, reason.Errorf(reason.PolicyUnavailable, "%w", err)
	}
	defer closeStore()
	sp, err := store.Load(ctx)
	if err != nil {
		return nil, err
	}
	// A one-shot reader has no memory: the audit trail and the apply
	// layer's high-water mark say whether an older policy was restored.
	if err := store.CheckHistory(ctx, sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// withPolicyEncodings applies QUANTUM_POLICY_ENCODINGS ("v2", the
// default, or "v1,v2") to ring.
func withPolicyEncodings(c *cli.Invocation, ring *policy.TrustedKeys) (*policy.TrustedKeys, error) {
	return policystore.WithEncodings(ring, c.Env.Getenv(policy.EncodingsEnv))
}

// trimCode returns err's text without its leading "CODE: ".
func trimCode(err error, code reason.Code) string {
	s := err.Error()
	if p := string(code) + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
