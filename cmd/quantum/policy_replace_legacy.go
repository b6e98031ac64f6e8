package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// resultLegacyReplaced is the audit result of a legacy policy key moved
// aside by publish --replace-legacy.
const resultLegacyReplaced = "legacy_replaced"

// replaceLegacy moves a legacy policy key aside before a publish: a key
// that is not a hash (backend/core/policy_store.py SETs a JSON string) or a
// hash that does not verify with ring (lib/policy_store.py save(): unsigned,
// its own hash). The key is renamed to <prefix>:policy:legacy:<unix> (kept
// for a rollback, nothing deleted) and the move is audited on policy.audit
// (result=legacy_replaced, the type, the reason code, the field names). It
// returns the seq to publish: one above every seq the legacy key, the audit
// trail and the update stream have seen, so that a running apply layer
// never sees a rollback. A valid live policy, or none, is refused: there is
// nothing legacy to replace, and the flag acts once.
func replaceLegacy(ctx context.Context, c *cli.Invocation, ring *policy.TrustedKeys, actor string) (uint64, error) {
	rdb, err := c.Redis()
	if err != nil {
		return 0, err
	}
	defer rdb.Close()
	k := c.Keys()
	key := k.PolicyCurrent()
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("TYPE %s: %w", key, err)
	}
	var why reason.Code
	var names []string
	var legacySeq uint64
	switch typ {
	case "none":
		return 0, fmt.Errorf("--replace-legacy: no key at %s: nothing to replace (publish without the flag)", key)
	case "hash":
		f, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return 0, fmt.Errorf("HGETALL %s: %w", key, err)
		}
		_, verr := policy.Verify(f, ring, c.Env.Clock()(), time.Minute)
		code := reason.CodeOf(verr)
		if verr == nil || !slices.Contains([]reason.Code{reason.PolicyUnsigned, reason.PolicyHashMismatch, reason.PolicySignatureInvalid, reason.PolicyMissingField, reason.PolicyParseError, reason.PolicyInvalid}, code) {
			return 0, fmt.Errorf("--replace-legacy: %s is a signed policy of ours (%s): nothing legacy to replace; publish without the flag", key, cmpOr(string(code), "valid"))
		}
		why = code
		for n := range f {
			names = append(names, n)
		}
		slices.Sort(names)
		legacySeq, _ = strconv.ParseUint(f[policy.FieldSeq], 10, 64)
	default:
		why = reason.PolicyParseError
	}
	seq, err := highestSeq(ctx, rdb, c)
	if err != nil {
		return 0, err
	}
	seq = max(seq, legacySeq) + 1
	aside := k.Key(fmt.Sprintf("policy:legacy:%d", c.Env.Clock()().UnixNano()))
	if ok, err := rdb.RenameNX(ctx, key, aside).Result(); err != nil || !ok {
		return 0, fmt.Errorf("move %s aside to %s: %v", key, aside, err)
	}
	store, err := policystore.New(rdb, policystore.Options{Keys: k, Keyring: ring, Now: c.Env.Clock()})
	if err != nil {
		return 0, err
	}
	detail := fmt.Sprintf("legacy %s moved to %s (%s); fields: %s; next policy_seq %d", typ, aside, why, strings.Join(names, ","), seq)
	if _, err := store.AppendAudit(ctx, policystore.AuditEntry{Result: resultLegacyReplaced, Reason: string(why), Detail: detail, Actor: actor, Generator: "quantum policy publish --replace-legacy"}); err != nil {
		return 0, fmt.Errorf("audit the replacement (the legacy key is at %s): %w", aside, err)
	}
	fmt.Fprintf(c.Env.Stderr, "quantum policy publish: %s\n", detail)
	return seq, nil
}

// highestSeq is the highest policy_seq on the audit trail and the update
// stream (0 when none).
func highestSeq(ctx context.Context, rdb redis.UniversalClient, c *cli.Invocation) (uint64, error) {
	var hi uint64
	for _, stream := range []string{c.Keys().PolicyAudit(), c.Keys().PolicyUpdate()} {
		start := "+"
		for {
			msgs, err := rdb.XRevRangeN(ctx, stream, start, "-", 1000).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return 0, fmt.Errorf("read %s: %w", stream, err)
			}
			for _, m := range msgs {
				if n, err := strconv.ParseUint(fmt.Sprint(m.Values[policy.FieldSeq]), 10, 64); err == nil {
					hi = max(hi, n)
				}
			}
			if len(msgs) < 1000 {
				break
			}
			start = "(" + msgs[len(msgs)-1].ID
		}
	}
	return hi, nil
}
