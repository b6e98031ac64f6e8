package policystore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// ResultLegacyReplaced is the audit result of a legacy policy key moved
// aside by ReplaceLegacy (policy publish --replace-legacy).
const ResultLegacyReplaced = "legacy_replaced"

// ReplaceLegacy moves a legacy policy key aside before a publish: a key
// that is not a hash (backend/core/policy_store.py SETs a JSON string) or a
// hash that does not verify with the store's trusted keys
// (lib/policy_store.py save(): unsigned, its own hash). The key is renamed
// to <prefix>:policy:legacy:<unix nanoseconds> (kept for a rollback,
// nothing deleted) and the move is audited on policy.audit
// (result=legacy_replaced, the type, the reason code, the field names). It
// returns the seq to publish: one above every seq the legacy key, the
// audit trail and the update stream have seen, so that a running apply
// layer never sees a rollback; and the audit entry's detail, for the
// operator. A valid live policy, or none, is refused: there is nothing
// legacy to replace, and the flag acts once.
func (s *Store) ReplaceLegacy(ctx context.Context, actor string) (uint64, string, error) {
	k := s.opt.Keys
	key := k.PolicyCurrent()
	typ, err := s.rdb.Type(ctx, key).Result()
	if err != nil {
		return 0, "", fmt.Errorf("TYPE %s: %w", key, err)
	}
	var why reason.Code
	var names []string
	var legacySeq uint64
	switch typ {
	case "none":
		return 0, "", fmt.Errorf("--replace-legacy: no key at %s: nothing to replace (publish without the flag)", key)
	case "hash":
		f, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return 0, "", fmt.Errorf("HGETALL %s: %w", key, err)
		}
		_, verr := policy.Verify(f, s.opt.Keyring, s.opt.Now(), time.Minute)
		code := reason.CodeOf(verr)
		if verr == nil || !slices.Contains([]reason.Code{reason.PolicyUnsigned, reason.PolicyHashMismatch, reason.PolicySignatureInvalid, reason.PolicyMissingField, reason.PolicyParseError, reason.PolicyInvalid}, code) {
			return 0, "", fmt.Errorf("--replace-legacy: %s is a signed policy of ours (%s): nothing legacy to replace; publish without the flag", key, cmp.Or(string(code), "valid"))
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
	seq, err := s.highestStreamSeq(ctx)
	if err != nil {
		return 0, "", err
	}
	seq = max(seq, legacySeq) + 1
	aside := k.Key(fmt.Sprintf("policy:legacy:%d", s.opt.Now().UnixNano()))
	if ok, err := s.rdb.RenameNX(ctx, key, aside).Result(); err != nil || !ok {
		return 0, "", fmt.Errorf("move %s aside to %s: %v", key, aside, err)
	}
	detail := fmt.Sprintf("legacy %s moved to %s (%s); fields: %s; next policy_seq %d", typ, aside, why, strings.Join(names, ","), seq)
	if _, err := s.AppendAudit(ctx, AuditEntry{Result: ResultLegacyReplaced, Reason: string(why), Detail: detail, Actor: actor, Generator: "quantum policy publish --replace-legacy"}); err != nil {
		return 0, "", fmt.Errorf("audit the replacement (the legacy key is at %s): %w", aside, err)
	}
	return seq, detail, nil
}

// highestStreamSeq is the highest policy_seq on the audit trail and the
// update stream (0 when none), read whole, newest first, 1000 at a time.
func (s *Store) highestStreamSeq(ctx context.Context) (uint64, error) {
	var hi uint64
	for _, stream := range []string{s.opt.Keys.PolicyAudit(), s.opt.Keys.PolicyUpdate()} {
		start := "+"
		for {
			msgs, err := s.rdb.XRevRangeN(ctx, stream, start, "-", 1000).Result()
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
