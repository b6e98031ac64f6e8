package policystore

import (
	"context"

	"github.com/redis/go-redis/v9"

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
