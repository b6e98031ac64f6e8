package policystore

import (
	"context"
	"fmt"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// WithEncodings applies encodings, the value of policy.EncodingsEnv ("v2",
// the default when empty, or "v1,v2"), to ring.
func WithEncodings(ring *policy.TrustedKeys, encodings string) (*policy.TrustedKeys, error) {
	if encodings == "" {
		return ring, nil
	}
	vs, err := canon.ParseVersions(encodings)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", policy.EncodingsEnv, err)
	}
	return ring.WithEncodings(vs), nil
}

// ReaderKeys loads the trusted keys of a one-shot reader (policy verify,
// show, exchange check): pubkeys, files comma-separated, with encodings
// applied. It fails closed with a reason code: no file or an unusable one
// is POLICY_KEY_UNAVAILABLE, a bad encodings value
// POLICY_SIGNATURE_INVALID.
func ReaderKeys(pubkeys, encodings string) (*policy.TrustedKeys, error) {
	paths := secretfile.SplitList(pubkeys)
	if len(paths) == 0 {
		return nil, reason.Errorf(reason.PolicyKeyUnavailable, "no trusted public key: pass --pubkey FILE or set QUANTUM_POLICY_PUBKEY")
	}
	ring, err := policy.LoadTrustedKeys(paths...) // POLICY_KEY_UNAVAILABLE
	if err != nil {
		return nil, err
	}
	if ring, err = WithEncodings(ring, encodings); err != nil {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "%w", err)
	}
	return ring, nil
}

// LoadTrusted loads the trusted keys of pubkeys (files, comma-separated)
// with encodings applied (WithEncodings; "" for none); nil, nil when
// pubkeys names no file.
func LoadTrusted(pubkeys, encodings string) (*policy.TrustedKeys, error) {
	paths := secretfile.SplitList(pubkeys)
	if len(paths) == 0 {
		return nil, nil
	}
	ring, err := policy.LoadTrustedKeys(paths...)
	if err != nil {
		return nil, err
	}
	return WithEncodings(ring, encodings)
}

// LoadChecked is Load for a one-shot reader, which has no memory: the
// audit trail and the apply layer's high-water mark say whether an older
// policy was restored (CheckHistory: POLICY_ROLLBACK). A refusal of the
// policy's integrity names the fields a legacy writer changed
// (ExplainIntegrity).
func (s *Store) LoadChecked(ctx context.Context) (*policy.Signed, error) {
	sp, err := s.Load(ctx)
	if err != nil {
		return nil, s.ExplainIntegrity(ctx, err) // names a legacy writer's fields
	}
	if err := s.CheckHistory(ctx, sp); err != nil {
		return nil, err
	}
	return sp, nil
}
