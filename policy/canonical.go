package policy

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/quantumtrader/quantum/internal/canon"
)

// CanonicalHeader starts every canonical encoding. It names the format so
// that a future encoding can never be confused with this one.
const CanonicalHeader = "quantum-policy/v1\n"

// signatureFields are left out of the canonical encoding: they are computed
// from it.
func isSignatureField(name string) bool {
	return name == FieldHash || name == FieldSignature || name == FieldKeyID
}

// Canonical returns the canonical encoding of a stored policy: the header,
// then for every field except policy_hash, signature and key_id, in byte
// order of the field names, one record
//
//	<name>=<byte length of value>:<value>\n
//
// The values are the exact stored text, so a reader hashes what it read,
// not a re-encoding of it. Every field present is covered, known or not:
// adding a field changes the encoding just as changing one does. The length
// prefix makes the encoding unambiguous whatever the values hold.
//
// In Python:
//
//	def canonical(fields: dict[str, str]) -> bytes:
//	    out = b"quantum-policy/v1\n"
//	    for k in sorted(fields):
//	        if k in ("policy_hash", "signature", "key_id"):
//	            continue
//	        v = fields[k].encode()
//	        out += k.encode() + b"=" + str(len(v)).encode() + b":" + v + b"\n"
//	    return out
func Canonical(fields map[string]string) []byte {
	return canon.Encode(CanonicalHeader, fields, isSignatureField)
}

// Hash returns the policy_hash of a stored policy: lowercase hex SHA-256 of
// its canonical encoding.
func Hash(fields map[string]string) string {
	return hashCanonical(Canonical(fields))
}

func hashCanonical(canon []byte) string {
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}
