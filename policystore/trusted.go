package policystore

import (
	"fmt"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/policy"
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
