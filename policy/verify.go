package policy

import (
	"crypto/ed25519"
	"encoding/hex"
	"time"

	"github.com/quantumtrader/quantum/reason"
)

// Signed is a policy with its hash and signature: what is stored and what a
// reader gets back from Verify.
type Signed struct {
	Policy
	Hash      string // lowercase hex SHA-256 of the canonical encoding
	Signature string // lowercase hex Ed25519 signature of the canonical encoding
	KeyID     string // id of the key that signed
}

// Sign validates p, then hashes and signs it with k.
func Sign(p *Policy, k *PrivateKey) (*Signed, error) {
	if err := Validate(p); err != nil {
		return nil, err
	}
	f, err := p.Fields()
	if err != nil {
		return nil, reason.Errorf(reason.PolicyInvalid, "%w", err)
	}
	canon := Canonical(f)
	return &Signed{
		Policy:    *p,
		Hash:      Hash(f),
		Signature: hex.EncodeToString(ed25519.Sign(k.key, canon)),
		KeyID:     k.id,
	}, nil
}

// SignFields signs an arbitrary field map as it stands, adding policy_hash,
// signature and key_id. It does not validate: proofs and tests use it to
// build policies that are signed but broken.
func SignFields(fields map[string]string, k *PrivateKey) map[string]string {
	out := make(map[string]string, len(fields)+3)
	for name, v := range fields {
		if !isSignatureField(name) {
			out[name] = v
		}
	}
	out[FieldHash] = Hash(out)
	out[FieldSignature] = hex.EncodeToString(ed25519.Sign(k.key, Canonical(out)))
	out[FieldKeyID] = k.id
	return out
}

// Fields returns every stored field of s, signature fields included.
func (s *Signed) Fields() (map[string]string, error) {
	f, err := s.Policy.Fields()
	if err != nil {
		return nil, err
	}
	f[FieldHash] = s.Hash
	f[FieldSignature] = s.Signature
	f[FieldKeyID] = s.KeyID
	return f, nil
}

// Remaining returns how long s stays valid after now (negative once stale).
func (s *Signed) Remaining(now time.Time) time.Duration {
	return time.Unix(s.ValidUntil, 0).Sub(now)
}

// Verify checks a stored policy and returns it, or an error with exactly one
// reason code. The checks run in this order, and the first that fails names
// the code:
//
//  1. no field at all: POLICY_MISSING
//  2. a required field absent: POLICY_MISSING_FIELD
//  3. signature or key_id absent or empty: POLICY_UNSIGNED
//  4. policy_hash differs from the hash of the fields: POLICY_HASH_MISMATCH
//  5. key_id not trusted, or the signature does not verify: POLICY_SIGNATURE_INVALID
//  6. a field does not parse: POLICY_PARSE_ERROR
//  7. a content rule is broken (Validate): POLICY_INVALID
//  8. now is at or past valid_until_epoch: POLICY_STALE
//  9. issued_at_epoch is more than skew ahead of now: POLICY_NOT_YET_VALID
//
// Integrity (4, 5) is checked before parsing, so a tampered field reads as
// tampering, whatever it was changed to. Rollback is the reader's check
// (policystore), since it needs the reader's memory.
func Verify(fields map[string]string, ring *TrustedKeys, now time.Time, skew time.Duration) (*Signed, error) {
	if len(fields) == 0 {
		return nil, reason.Errorf(reason.PolicyMissing, "no policy is stored")
	}
	for _, name := range RequiredFields {
		if _, ok := fields[name]; !ok {
			return nil, reason.Errorf(reason.PolicyMissingField, "field %s is missing", name)
		}
	}
	sigHex, keyID := fields[FieldSignature], fields[FieldKeyID]
	if sigHex == "" || keyID == "" {
		return nil, reason.Errorf(reason.PolicyUnsigned, "the policy has no signature or key_id")
	}
	canon := Canonical(fields)
	if got, want := fields[FieldHash], hashCanonical(canon); got != want {
		return nil, reason.Errorf(reason.PolicyHashMismatch, "stored policy_hash %.16s... does not match the fields (%.16s...)", got, want)
	}
	pub, ok := ring.Lookup(keyID)
	if !ok {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "signed by key_id %q, which is not trusted (trusted: %v)", keyID, ring.IDs())
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "signature is not %d bytes of hex", ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, canon, sig) {
		return nil, reason.Errorf(reason.PolicySignatureInvalid, "signature does not verify with key_id %s", keyID)
	}
	p, err := parseFields(fields)
	if err != nil {
		return nil, reason.Errorf(reason.PolicyParseError, "%w", err)
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	if nowSec := now.Unix(); nowSec >= p.ValidUntil {
		return nil, reason.Errorf(reason.PolicyStale, "valid_until_epoch %d is %s in the past", p.ValidUntil, time.Duration(nowSec-p.ValidUntil)*time.Second)
	}
	if ahead := time.Unix(p.IssuedAt, 0).Sub(now); ahead > skew {
		return nil, reason.Errorf(reason.PolicyNotYetValid, "issued_at_epoch %d is %s ahead of this clock (allowed skew %s)", p.IssuedAt, ahead.Round(time.Second), skew)
	}
	return &Signed{Policy: *p, Hash: fields[FieldHash], Signature: sigHex, KeyID: keyID}, nil
}
