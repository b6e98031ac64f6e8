package policystore

import (
	"context"
	"time"

	"github.com/quantumtrader/quantum/policy"
)

// Release says how SignAndPublish stamps a policy's content.
type Release struct {
	Seq       uint64        // policy_seq to publish; 0 means the live seq + 1
	Validity  time.Duration // valid_until = now + Validity, unless the content sets it
	Generator string        // used when the content names none
	Actor     string        // who publishes, for the audit trail
	// Check, when set, runs on the stamped and validated policy before it
	// is signed: rules of the caller's own on top of policy.Validate, such
	// as the refresh's leverage cap. Its error is returned as it is.
	Check func(*policy.Policy) error
}

// SignAndPublish stamps content (seq, issue time from the Store's clock,
// validity, generator), signs it with key and publishes it. It is the one
// path from content to live policy, shared by `quantum policy publish`, the
// refresh and `quantum dev`. Without r.Seq it takes the highest verified
// seq + 1 (LiveSeq): a tampered live policy_seq is not counted, and after
// a DEL of the policy key the sequence continues from the audit trail.
func (s *Store) SignAndPublish(ctx context.Context, content *policy.Content, key *policy.PrivateKey, r Release) (*policy.Signed, *Published, error) {
	seq := r.Seq
	if seq == 0 {
		live, _, err := s.LiveSeq(ctx)
		if err != nil {
			return nil, nil, err
		}
		seq = live + 1
	}
	p, err := content.Build(policy.Stamp{Seq: seq, IssuedAt: s.opt.Now(), Validity: r.Validity, Generator: r.Generator})
	if err != nil {
		return nil, nil, err
	}
	if r.Check != nil {
		if err := r.Check(p); err != nil {
			return nil, nil, err
		}
	}
	sp, err := policy.Sign(p, key)
	if err != nil {
		return nil, nil, err
	}
	pub, err := s.Publish(ctx, sp, r.Actor)
	if err != nil {
		return nil, nil, err
	}
	return sp, pub, nil
}
