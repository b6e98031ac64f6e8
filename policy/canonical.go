package policy

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/quantumtrader/quantum/internal/canon"
)

// Canonical headers of a policy, one per encoding. The header names the
// format, so that one encoding can never be confused with another.
const (
	CanonicalHeaderV1 = "quantum-policy/v1\n"
	CanonicalHeaderV2 = "quantum-policy/v2\n"
)

// CanonicalHeader starts the encoding every publish writes (v2).
const CanonicalHeader = CanonicalHeaderV2

// EncodingV2 is the value of policy_encoding in a policy signed over the
// v2 encoding. A policy without the field is signed over v1.
const EncodingV2 = "v2"

// isSignatureField reports the fields left out of the canonical encoding:
// they are computed from it (hash, signature), name the key, or name the
// encoding (whose header is inside the signed bytes, so changing the field
// breaks the hash).
func isSignatureField(name string) bool {
	return name == FieldHash || name == FieldSignature || name == FieldKeyID || name == FieldEncoding
}

// SignatureField reports whether name is one of the fields the canonical
// encoding leaves out (policy_hash, signature, key_id, policy_encoding):
// the signature does not cover them, they carry it.
func SignatureField(name string) bool { return isSignatureField(name) }

// EncodingOf returns the encoding a stored policy says it is signed over:
// v1 when policy_encoding is absent, v2 when it is "v2"; any other value
// is false.
func EncodingOf(fields map[string]string) (canon.Version, bool) {
	v, ok := fields[FieldEncoding]
	switch {
	case !ok:
		return canon.V1, true
	case v == EncodingV2:
		return canon.V2, true
	}
	return 0, false
}

// Canonical returns the canonical encoding of a stored policy, in the
// encoding its policy_encoding names (v2 for every policy this project
// writes): the header, then for every field except policy_hash,
// signature, key_id and policy_encoding, in byte order of the field
// names, one record
//
//	<byte length of name>:<name>=<byte length of value>:<value>\n   (v2)
//	<name>=<byte length of value>:<value>\n                         (v1)
//
// The values are the exact stored text, so a reader hashes what it read,
// not a re-encoding of it. Every field present is covered, known or not.
// In v2 the names are length-prefixed as well as the values, so no two
// field maps share an encoding; in v1 fields could be folded into one
// junk name, which is why a reader refuses every name outside
// ^[A-Za-z0-9_]{1,64}$ first, and accepts v1 only when configured.
//
// In Python (docs/policy.md; TestPythonSnippets runs it):
//
//	def canonical(fields: dict[str, str]) -> bytes:
//	    out = b"quantum-policy/v2\n"
//	    for k in sorted(fields):
//	        if k in ("policy_hash", "signature", "key_id", "policy_encoding"):
//	            continue
//	        n, v = k.encode(), fields[k].encode()
//	        out += b"%d:%s=%d:%s\n" % (len(n), n, len(v), v)
//	    return out
func Canonical(fields map[string]string) []byte {
	v, ok := EncodingOf(fields)
	if !ok {
		v = canon.V2
	}
	return CanonicalVersion(v, fields)
}

// CanonicalVersion returns encoding v of fields.
func CanonicalVersion(v canon.Version, fields map[string]string) []byte {
	h := CanonicalHeaderV2
	if v == canon.V1 {
		h = CanonicalHeaderV1
	}
	return canon.Encode(v, h, fields, isSignatureField)
}

// Hash returns the policy_hash of a stored policy: lowercase hex SHA-256 of
// its canonical encoding (Canonical).
func Hash(fields map[string]string) string {
	return hashCanonical(Canonical(fields))
}

func hashCanonical(canon []byte) string {
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// EncodingsEnv is the environment variable that
// sets which policy encodings readers accept: "v2" (the default) or
// "v1,v2" during an upgrade (canon.ParseVersions reads it;
// TrustedKeys.WithEncodings applies it).
const EncodingsEnv = "QUANTUM_POLICY_ENCODINGS"
