package status

// The live policy: present, signed, in force, validity left.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/redis/go-redis/v9"
)

func readPolicy(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	f, err := rdb.HGetAll(ctx, opt.Keys.PolicyCurrent()).Result()
	p := &r.Policy
	if err != nil && reason.CodeOf(policystore.ReadError(err)) == reason.PolicyParseError {
		// A string (a legacy SET) or any other type: readers refuse it.
		p.Present, p.Signature = true, string(reason.PolicyParseError)
		r.attention("policy key %s is not a hash (%s): every plan is denied", opt.Keys.PolicyCurrent(), reason.PolicyParseError)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.PolicyCurrent(), err)
	}
	if len(f) == 0 {
		p.Signature = string(reason.PolicyMissing)
		r.attention("no policy at %s (%s): every plan is denied", opt.Keys.PolicyCurrent(), reason.PolicyMissing)
		return nil
	}
	p.Present = true
	p.Version, p.Hash, p.TradingState = f[policy.FieldVersion], f[policy.FieldHash], f[policy.FieldTradingState]
	p.Seq, _ = strconv.ParseUint(f[policy.FieldSeq], 10, 64)
	p.IssuedAt, _ = strconv.ParseInt(f[policy.FieldIssuedAt], 10, 64)
	p.ValidUntil, _ = strconv.ParseInt(f[policy.FieldValidUntil], 10, 64)
	if p.IssuedAt > 0 {
		p.AgeSec = now.Unix() - p.IssuedAt
	}
	if p.ValidUntil > 0 {
		p.RemainingSec = max(0, p.ValidUntil-now.Unix())
	}
	if opt.Keyring == nil {
		p.Signature = "not checked"
		r.attention("policy signature not checked: give --pubkey or QUANTUM_POLICY_PUBKEY")
		return nil
	}
	store, err := policystore.New(rdb, policystore.Options{Keys: opt.Keys, Keyring: opt.Keyring, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	sp, err := store.Accept(f)
	if err == nil {
		err = store.CheckHistory(ctx, sp) // POLICY_ROLLBACK: an older policy restored
	}
	if err != nil {
		code := reason.CodeOf(err)
		p.Signature = string(code)
		if p.LegacyWriter = store.IntegrityDivergence(ctx, err); p.LegacyWriter != nil {
			err = fmt.Errorf("%w; %s", err, p.LegacyWriter)
		}
		r.attention("policy not valid: %v", err)
		return nil
	}
	p.Signature, p.Valid = "ok", true
	p.RemainingSec = int64(max(0, sp.Remaining(now)) / time.Second)
	if left := sp.Remaining(now); left < opt.MinRemaining {
		r.attention("policy valid for %s only (under %s): is the refresh running?", left.Truncate(time.Second), opt.MinRemaining)
	}
	return nil
}
