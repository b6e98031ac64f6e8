package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/quantumtrader/quantum/internal/canon"
)

// CanonicalHeader starts the canonical encoding of a plan.
const CanonicalHeader = "quantum-plan/v1\n"

// Canonical returns the encoding a producer signs: the header, then every
// field except sig, in byte order of the names, as
//
//	<name>=<byte length of value>:<value>\n
//
// Every field sent is covered, so nothing can be added to or changed in a
// signed plan. In Python:
//
//	def canonical(fields: dict[str, str]) -> bytes:
//	    out = b"quantum-plan/v1\n"
//	    for k in sorted(fields):
//	        if k == "sig":
//	            continue
//	        v = fields[k].encode()
//	        out += k.encode() + b"=" + str(len(v)).encode() + b":" + v + b"\n"
//	    return out
func Canonical(fields map[string]string) []byte {
	return canon.Encode(CanonicalHeader, fields, isSig)
}

func isSig(name string) bool { return name == FieldSig }

// Sign returns the sig of fields: lowercase hex HMAC-SHA256 with secret
// over Canonical(fields).
func Sign(fields map[string]string, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(Canonical(fields))
	return hex.EncodeToString(m.Sum(nil))
}

// SignFields adds sig to a copy of fields.
func SignFields(fields map[string]string, secret []byte) map[string]string {
	out := make(map[string]string, len(fields)+1)
	for k, v := range fields {
		if k != FieldSig {
			out[k] = v
		}
	}
	out[FieldSig] = Sign(out, secret)
	return out
}

// Verify reports whether sigHex is the signature of fields, in constant time.
func Verify(fields map[string]string, sigHex string, secret []byte) bool {
	return newVerifier(secret).verify(fields, sigHex)
}

// verifier checks signatures of one secret. It keeps HMAC states and
// buffers in a pool: the apply layer verifies every plan, and a fresh HMAC
// costs more than the hashing itself.
type verifier struct {
	pool sync.Pool // of *verifyState
}

type verifyState struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

func newVerifier(secret []byte) *verifier {
	key := append([]byte(nil), secret...)
	return &verifier{pool: sync.Pool{New: func() any {
		return &verifyState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 512), sum: make([]byte, 0, sha256.Size)}
	}}}
}

func (v *verifier) verify(fields map[string]string, sigHex string) bool {
	var got [sha256.Size]byte
	if len(sigHex) != 2*sha256.Size {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(sigHex)); err != nil {
		return false
	}
	st := v.pool.Get().(*verifyState)
	defer v.pool.Put(st)
	st.buf = canon.Append(st.buf[:0], CanonicalHeader, fields, isSig)
	st.mac.Reset()
	st.mac.Write(st.buf)
	st.sum = st.mac.Sum(st.sum[:0])
	return hmac.Equal(got[:], st.sum)
}
