package policy

import (
	"crypto/ed25519"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/reason"
)

// Signed is a policy with its hash and signature: what is stored and what a
// reader gets back from Verify.
type Signed struct {
	Policy
	Hash      string        // lowercase hex SHA-256 of the canonical encoding
	Signature string        // lowercase hex Ed25519 signature of the canonical encoding
	KeyID     string        // id of the key that signed
	Encoding  canon.Version // the canonical encoding signed (v2 for every new signature)
}

// Sign validates p, then hashes and signs it with k over the v2 encoding.
func Sign(p *Policy, k *PrivateKey) (*Signed, error) {
	return SignVersion(canon.V2, p, k)
}

// SignVersion is Sign over encoding v. Every publish signs v2; v1 is for
// tests of the transition.
func SignVersion(v canon.Version, p *Policy, k *PrivateKey) (*Signed, error) {
	if err := Validate(p); err != nil {
		return nil, err
	}
	f, err := p.Fields()
	if err != nil {
		return nil, reason.Errorf(reason.PolicyInvalid, "%w", err)
	}
	enc := CanonicalVersion(v, f)
	return &Signed{
		Policy:    *p,
		Hash:      hashCanonical(enc),
		Signature: hex.EncodeToString(ed25519.Sign(k.key, enc)),
		KeyID:     k.id,
		Encoding:  v,
	}, nil
}

// SignFields signs an arbitrary field map as it stands over the v2
// encoding, adding policy_hash, signature, key_id and policy_encoding. It
// does not validate: proofs and tests use it to build policies that are
// signed but broken.
func SignFields(fields map[string]string, k *PrivateKey) map[string]string {
	return SignFieldsVersion(canon.V2, fields, k)
}

// SignFieldsVersion is SignFields over encoding v (a v1 policy has no
// policy_encoding field).
func SignFieldsVersion(v canon.Version, fields map[string]string, k *PrivateKey) map[string]string {
	out := make(map[string]string, len(fields)+4)
	for name, val := range fields {
		if !isSignatureField(name) {
			out[name] = val
		}
	}
	enc := CanonicalVersion(v, out)
	out[FieldHash] = hashCanonical(enc)
	out[FieldSignature] = hex.EncodeToString(ed25519.Sign(k.key, enc))
	out[FieldKeyID] = k.id
	if v == canon.V2 {
		out[FieldEncoding] = EncodingV2
	}
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
	if s.Encoding != canon.V1 {
		f[FieldEncoding] = EncodingV2
	}
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
//  2. a field name outside ^[A-Za-z0-9_]{1,64}$: POLICY_INVALID (before
//     anything is hashed: such a name could fold fields in v1)
//  3. a required field absent: POLICY_MISSING_FIELD
//  4. signature or key_id absent or empty: POLICY_UNSIGNED
//  5. policy_encoding neither absent (v1) nor "v2", or an encoding ring
//     does not accept (v2 only unless configured): POLICY_SIGNATURE_INVALID
//  6. policy_hash differs from the hash of the fields: POLICY_HASH_MISMATCH
//  7. key_id not trusted, or the signature is not 128 lowercase hex digits
//     or does not verify: POLICY_SIGNATURE_INVALID
//  8. a field the policy does not know (the set is closed): POLICY_INVALID
//  9. a field does not parse: POLICY_PARSE_ERROR
//  10. a content rule is broken (Validate): POLICY_INVALID
//  11. now is at or past valid_until_epoch: POLICY_STALE
//  12. issued_at_epoch is more than skew ahead of now: POLICY_NOT_YET_VALID
//
// Integrity (6, 7) is checked before parsing, so a tampered field reads as
// tampering, whatever it was changed to. Rollback is the reader's check
// (policystore), since it needs the reader's memory.
func Verify(fields map[string]string, ring *TrustedKeys, now time.Time, skew time.Duration) (*Signed, error) {
	if len(fields) == 0 {
		return nil, reason.Errorf(reason.PolicyMissing, "no policy is stored")
	}
	enc, err := verifyIntegrity(fields, ring)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !Known(name) {
			return nil, reason.Errorf(reason.PolicyInvalid, "field %s is not a policy field (the field set is closed; signed, but no reader knows what it means)", name)
		}
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
	return &Signed{Policy: *p, Hash: fields[FieldHash], Signature: fields[FieldSignature], KeyID: fields[FieldKeyID], Encoding: enc}, nil
}

// VerifyIntegrity runs Verify's checks 1 to 7 only: the fields are
// well-named, complete, and signed by a trusted key over an accepted
// encoding. A stale or invalid policy can pass: publishers use it to tell
// a policy that was really published (whose policy_seq counts) from a
// tampered one.
func VerifyIntegrity(fields map[string]string, ring *TrustedKeys) error {
	if len(fields) == 0 {
		return reason.Errorf(reason.PolicyMissing, "no policy is stored")
	}
	_, err := verifyIntegrity(fields, ring)
	return err
}

func verifyIntegrity(fields map[string]string, ring *TrustedKeys) (canon.Version, error) {
	if bad := firstBadName(fields); bad != "" {
		return 0, reason.Errorf(reason.PolicyInvalid, "field %q: a field name is ^[A-Za-z0-9_]{1,64}$", clip(bad))
	}
	for _, name := range RequiredFields {
		if _, ok := fields[name]; !ok {
			return 0, reason.Errorf(reason.PolicyMissingField, "field %s is missing", name)
		}
	}
	sigHex, keyID := fields[FieldSignature], fields[FieldKeyID]
	if sigHex == "" || keyID == "" {
		return 0, reason.Errorf(reason.PolicyUnsigned, "the policy has no signature or key_id")
	}
	enc, ok := EncodingOf(fields)
	if !ok {
		return 0, reason.Errorf(reason.PolicySignatureInvalid, "field %s is %q: want %q (or no field: v1)", FieldEncoding, clip(fields[FieldEncoding]), EncodingV2)
	}
	if !ring.Encodings().Has(enc) {
		return 0, reason.Errorf(reason.PolicySignatureInvalid, "the policy is signed over quantum-policy/%s, which this reader does not accept (it accepts %s; set QUANTUM_POLICY_ENCODINGS=v1,v2 to accept v1 during an upgrade)", enc, ring.Encodings())
	}
	canonical := CanonicalVersion(enc, fields)
	if got, want := fields[FieldHash], hashCanonical(canonical); got != want {
		return 0, reason.Errorf(reason.PolicyHashMismatch, "stored policy_hash %.16q... does not match the fields (%.16s...)", got, want)
	}
	pub, ok := ring.Lookup(keyID)
	if !ok {
		return 0, reason.Errorf(reason.PolicySignatureInvalid, "signed by key_id %q, which is not trusted (trusted: %v)", clip(keyID), ring.IDs())
	}
	if len(sigHex) != 2*ed25519.SignatureSize || !canon.LowerHex(sigHex) {
		return 0, reason.Errorf(reason.PolicySignatureInvalid, "signature is not %d lowercase hex digits", 2*ed25519.SignatureSize)
	}
	sig, _ := hex.DecodeString(sigHex)
	if !ed25519.Verify(pub, canonical, sig) {
		return 0, reason.Errorf(reason.PolicySignatureInvalid, "signature does not verify with key_id %s", keyID)
	}
	return enc, nil
}

// MaxSeq is the highest policy_seq: 2^53-1, the largest integer a Lua
// number (the publish script's) holds exactly.
const MaxSeq = 1<<53 - 1

// ParseSeq reads a policy_seq as every reader and the publish script do:
// a plain decimal without sign or leading zero, 1 to MaxSeq. Anything else
// ("1e30", "18446744073709551615", "007", "abc", " 7") is not a seq.
func ParseSeq(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 || s[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + uint64(c-'0')
	}
	return n, n <= MaxSeq
}

// firstBadName returns the first field name, in byte order, outside
// ^[A-Za-z0-9_]{1,64}$, or "".
func firstBadName(fields map[string]string) string {
	bad := ""
	for name := range fields {
		if !canon.ValidName(name) && (bad == "" || name < bad) {
			bad = name
		}
	}
	return bad
}

// clip shortens hostile input before it reaches a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
