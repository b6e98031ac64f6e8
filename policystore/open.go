package policystore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// Open returns a store over a new client of dial, and a function that
// closes the client (the client is closed at once when the store cannot
// be made).
func Open(dial func() (redis.UniversalClient, error), opt Options) (*Store, func(), error) {
	rdb, err := dial()
	if err != nil {
		return nil, nil, err
	}
	store, err := New(rdb, opt)
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return store, func() { rdb.Close() }, nil
}

// LoadVerified is a one-shot reader's load (policy verify, show, exchange
// check): the trusted keys of pubkeys with encodings applied (ReaderKeys),
// a store over a new client of dial, and LoadChecked, which also checks the
// audit trail and the rollback memory (POLICY_ROLLBACK). opt's Keyring is
// replaced. A missing or unreadable key file fails closed like any other
// refusal; a client that cannot be made is POLICY_UNAVAILABLE.
func LoadVerified(ctx context.Context, dial func() (redis.UniversalClient, error), pubkeys, encodings string, opt Options) (*policy.Signed, error) {
	ring, err := ReaderKeys(pubkeys, encodings)
	if err != nil {
		return nil, err
	}
	opt.Keyring = ring
	store, closeStore, err := Open(dial, opt)
	if err != nil {
		return nil, reason.Errorf(reason.PolicyUnavailable, "%w", err)
	}
	defer closeStore()
	return store.LoadChecked(ctx)
}

// WithTrusted is the preamble of a read-only check (status, migrate check):
// it loads the trusted keys of pubkeys with encodings applied (LoadTrusted:
// nil when pubkeys names no file), then runs f with them over a new client
// of dial, closed when f returns.
func WithTrusted[T any](dial func() (redis.UniversalClient, error), pubkeys, encodings string, f func(*policy.TrustedKeys, redis.UniversalClient) (T, error)) (T, error) {
	var zero T
	ring, err := LoadTrusted(pubkeys, encodings)
	if err != nil {
		return zero, err
	}
	rdb, err := dial()
	if err != nil {
		return zero, err
	}
	defer rdb.Close()
	return f(ring, rdb)
}

// Show is `quantum policy show`'s read: the stored fields (a policy
// missing is POLICY_MISSING) and, when pubkeys names trusted keys, the
// verdict of a one-shot reader's load (LoadVerified) at the clock's time
// after it.
func Show(ctx context.Context, dial func() (redis.UniversalClient, error), pubkeys, encodings string, opt Options) (map[string]string, Verdict, error) {
	store, closeStore, err := Open(dial, Options{Keys: opt.Keys, Now: opt.Now})
	if err != nil {
		return nil, Verdict{}, err
	}
	defer closeStore()
	fields, err := store.Raw(ctx)
	if err != nil {
		return nil, Verdict{}, err
	}
	if len(fields) == 0 {
		return nil, Verdict{}, fmt.Errorf("%s: no policy at %s", reason.PolicyMissing, opt.Keys.PolicyCurrent())
	}
	verdict := Verdict{Checked: len(secretfile.SplitList(pubkeys)) > 0}
	if verdict.Checked {
		verdict.Policy, verdict.Err = LoadVerified(ctx, dial, pubkeys, encodings, opt)
		verdict.Now = opt.Now()
	}
	return fields, verdict, nil
}

// ReadAudit reads the newest count entries of the audit trail (Audit) over
// a new client of dial, closed on return.
func ReadAudit(ctx context.Context, dial func() (redis.UniversalClient, error), opt Options, count int64) ([]AuditEntry, error) {
	store, closeStore, err := Open(dial, opt)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	return store.Audit(ctx, count)
}
