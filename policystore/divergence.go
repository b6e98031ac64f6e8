package policystore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// A legacy writer bypasses the publish: the old generator's save()
// (lib/policy_store.py) HSETs the six fields it knows and a policy_hash of
// its own, intent_bridge HSETs universe_symbols and valid_until_epoch,
// policy_refresh_direct.py valid_until_epoch (LEGACY.md). Readers then see
// POLICY_HASH_MISMATCH (or POLICY_SIGNATURE_INVALID when the writer
// recomputed our hash), which says that the policy was changed but not by
// whom or where. Divergence says where: every publish also writes the
// fields it published to keys.PolicyPublished in the same atomic step
// (publish.lua), and the live hash is compared with that copy, field by
// field, once the copy itself verifies (a writer that changed both is
// caught too) and carries the live policy's signature. Only field names
// are reported, never values: a legacy writer may put anything there.

// Divergence says how the live policy hash differs from the policy its
// signature covers.
type Divergence struct {
	// Reference is the key of the published copy compared with.
	Reference string `json:"reference"`
	// Known says the copy verified and is the live policy's: Changed,
	// Missing and Rewritten are then exact. Without it only fields that no
	// policy has (Outside) can be named; Note says why.
	Known     bool   `json:"known"`
	SignedSeq uint64 `json:"signed_policy_seq,omitempty"` // the copy's policy_seq
	// Outside: fields of the live hash the signature does not cover.
	Outside []string `json:"outside_signed_set"`
	// Changed: signed fields whose live value differs from the signed one.
	Changed []string `json:"changed"`
	// Missing: signed fields the live hash lacks.
	Missing []string `json:"missing"`
	// Rewritten: the fields that carry the signature (policy_hash,
	// signature, key_id, policy_encoding) with another value than
	// published, such as save()'s own policy_hash.
	Rewritten []string `json:"rewritten"`
	Note      string   `json:"note,omitempty"`
}

// Empty reports whether no field is named.
func (d *Divergence) Empty() bool {
	return len(d.Outside)+len(d.Changed)+len(d.Missing)+len(d.Rewritten) == 0
}

// String is the divergence in one line, for verify, status and migrate
// check: "a legacy writer changed the live hash outside the publish:
// fields outside the signed set: ...; signed fields changed: ...".
func (d *Divergence) String() string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{
		{"fields outside the signed set", d.Outside},
		{"signed fields changed", d.Changed},
		{"signed fields missing", d.Missing},
		{"signature fields rewritten", d.Rewritten},
	} {
		if len(p.names) > 0 {
			parts = append(parts, p.what+": "+nameList(p.names))
		}
	}
	s := "a writer changed the live policy outside the publish (a legacy writer such as lib/policy_store.py save()?)"
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, "; ")
	}
	if d.Known {
		s += fmt.Sprintf(" (compared with the signed policy_seq %d at %s)", d.SignedSeq, d.Reference)
	}
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}

// maxNames bounds the names a line lists.
const maxNames = 20

// nameList renders field names for a message: a name outside
// ^[A-Za-z0-9_]{1,64}$ is quoted and clipped, so that it cannot forge a
// line or a field of the output.
func nameList(names []string) string {
	out := make([]string, 0, min(len(names), maxNames)+1)
	for i, n := range names {
		if i == maxNames {
			out = append(out, fmt.Sprintf("... and %d more", len(names)-maxNames))
			break
		}
		if !canon.ValidName(n) {
			n = strconv.Quote(clip(n))
		}
		out = append(out, n)
	}
	return strings.Join(out, ", ")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Divergence compares live, the policy hash as read, with the fields the
// last publish wrote (keys.PolicyPublished). It reads Redis only; an error
// means the copy could not be read.
func (s *Store) Divergence(ctx context.Context, live map[string]string) (*Divergence, error) {
	ref := s.opt.Keys.PolicyPublished()
	signed, err := s.rdb.HGetAll(ctx, ref).Result()
	if err != nil {
		return nil, redisErr(err)
	}
	d := &Divergence{Reference: ref, Outside: []string{}, Changed: []string{}, Missing: []string{}, Rewritten: []string{}}
	unknownOnly := func(note string) *Divergence {
		for _, name := range slices.Sorted(maps.Keys(live)) {
			// Publish verifies before it writes, and a policy with a field
			// no reader knows does not verify: such a field was never signed.
			if !policy.Known(name) {
				d.Outside = append(d.Outside, name)
			}
		}
		d.Note = note + ": only fields that no policy has can be named"
		return d
	}
	switch {
	case len(signed) == 0:
		return unknownOnly("no published copy at " + ref + " (the last publish was by an older release)"), nil
	case s.opt.Keyring == nil:
		return unknownOnly("no trusted key to check the published copy with"), nil
	}
	if err := policy.VerifyIntegrity(signed, s.opt.Keyring); err != nil {
		return unknownOnly(fmt.Sprintf("the published copy at %s does not verify either (%s): it was changed too", ref, reason.CodeOf(err))), nil
	}
	d.SignedSeq, _ = policy.ParseSeq(signed[policy.FieldSeq])
	if signed[policy.FieldSignature] != live[policy.FieldSignature] && signed[policy.FieldHash] != live[policy.FieldHash] {
		return unknownOnly(fmt.Sprintf("the live hash carries neither the signature nor the policy_hash of the published policy_seq %d", d.SignedSeq)), nil
	}
	d.Known = true
	for _, name := range slices.Sorted(maps.Keys(live)) {
		want, ok := signed[name]
		switch {
		case !ok:
			d.Outside = append(d.Outside, name)
		case want == live[name]:
		case policy.SignatureField(name):
			d.Rewritten = append(d.Rewritten, name)
		default:
			d.Changed = append(d.Changed, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(signed)) {
		if _, ok := live[name]; !ok {
			if policy.SignatureField(name) {
				d.Rewritten = append(d.Rewritten, name)
			} else {
				d.Missing = append(d.Missing, name)
			}
		}
	}
	return d, nil
}

// ExplainIntegrity adds to err, when it is an integrity refusal of the
// live policy (POLICY_HASH_MISMATCH, POLICY_SIGNATURE_INVALID), the fields
// a writer changed outside the publish (Divergence), keeping its reason
// code; any other error, or a divergence that names nothing, is returned
// as it is. For one-shot readers: policy verify, status, migrate check.
func (s *Store) ExplainIntegrity(ctx context.Context, err error) error {
	_, d := s.explain(ctx, err)
	if d == nil {
		return err
	}
	return reason.Errorf(reason.CodeOf(err), "%s; %s", withoutCode(err, reason.CodeOf(err)), d)
}

// IntegrityDivergence is ExplainIntegrity's divergence: nil unless err is
// an integrity refusal and a field can be named.
func (s *Store) IntegrityDivergence(ctx context.Context, err error) *Divergence {
	_, d := s.explain(ctx, err)
	return d
}

func (s *Store) explain(ctx context.Context, err error) (reason.Code, *Divergence) {
	code := reason.CodeOf(err)
	if code != reason.PolicyHashMismatch && code != reason.PolicySignatureInvalid {
		return code, nil
	}
	live, rerr := s.Raw(ctx)
	if rerr != nil || len(live) == 0 {
		return code, nil
	}
	d, derr := s.Divergence(ctx, live)
	if derr != nil || d.Empty() {
		return code, nil
	}
	return code, d
}
