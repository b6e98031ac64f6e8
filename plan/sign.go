package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/quantumtrader/quantum/internal/canon"
)

// Canonical headers of a plan, one per encoding.
const (
	CanonicalHeaderV1 = "quantum-plan/v1\n"
	CanonicalHeaderV2 = "quantum-plan/v2\n"
)

// CanonicalHeader starts the encoding every Go signer writes (v2).
const CanonicalHeader = CanonicalHeaderV2

// SigPrefixV2 starts a sig over the v2 encoding: "v2:" then 64 lowercase
// hex digits. A sig of 64 lowercase hex digits alone is over v1. The
// prefix is not signed, but the encoding's header is, so changing the
// prefix makes the sig fail.
const SigPrefixV2 = "v2:"

// Canonical returns the v2 encoding a producer signs: the header, then
// every field except sig, in byte order of the names, as
//
//	<byte length of name>:<name>=<byte length of value>:<value>\n
//
// Every field sent is covered, so nothing can be added to or changed in a
// signed plan. In Python (docs/producers.md; TestPythonSnippets runs it):
//
//	def canonical(fields: dict[str, str]) -> bytes:
//	    out = b"quantum-plan/v2\n"
//	    for k in sorted(fields):
//	        if k == "sig":
//	            continue
//	        n, v = k.encode(), fields[k].encode()
//	        out += b"%d:%s=%d:%s\n" % (len(n), n, len(v), v)
//	    return out
func Canonical(fields map[string]string) []byte {
	return CanonicalVersion(canon.V2, fields)
}

// CanonicalVersion returns encoding v of fields (v1: names not
// length-prefixed; kept for producers that have not moved yet).
func CanonicalVersion(v canon.Version, fields map[string]string) []byte {
	return canon.Encode(v, header(v), fields, isSig)
}

func header(v canon.Version) string {
	if v == canon.V1 {
		return CanonicalHeaderV1
	}
	return CanonicalHeaderV2
}

func isSig(name string) bool { return name == FieldSig }

// Sign returns the sig of fields over the v2 encoding: "v2:" then the
// lowercase hex HMAC-SHA256 with secret over Canonical(fields).
func Sign(fields map[string]string, secret []byte) string {
	return SignVersion(canon.V2, fields, secret)
}

// SignVersion returns the sig of fields over encoding v (v1 sigs have no
// prefix). Go signers use Sign; v1 is for tests of the transition.
func SignVersion(v canon.Version, fields map[string]string, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(CanonicalVersion(v, fields))
	sum := hex.EncodeToString(m.Sum(nil))
	if v == canon.V1 {
		return sum
	}
	return SigPrefixV2 + sum
}

// SignFields adds a v2 sig to a copy of fields.
func SignFields(fields map[string]string, secret []byte) map[string]string {
	return SignFieldsVersion(canon.V2, fields, secret)
}

// SignFieldsVersion adds a sig over encoding v to a copy of fields.
func SignFieldsVersion(v canon.Version, fields map[string]string, secret []byte) map[string]string {
	out := make(map[string]string, len(fields)+1)
	for k, val := range fields {
		if k != FieldSig {
			out[k] = val
		}
	}
	out[FieldSig] = SignVersion(v, out, secret)
	return out
}

// Verify reports whether sig is a v2 signature of fields with secret, in
// constant time. A keyring (Secrets.WithEncodings) may accept v1 too.
func Verify(fields map[string]string, sig string, secret []byte) bool {
	return newVerifier(secret).verify(fields, sig, canon.DefaultVersions)
}

// SigVersion returns the encoding a sig says it signs and its hex digits,
// or false when the sig is neither "v2:" and 64 lowercase hex digits nor
// 64 lowercase hex digits alone. Upper-case hex is refused: one spelling
// per signature.
func SigVersion(sig string) (canon.Version, string, bool) {
	v := canon.V1
	if rest, ok := strings.CutPrefix(sig, SigPrefixV2); ok {
		v, sig = canon.V2, rest
	}
	if len(sig) != 2*sha256.Size || !canon.LowerHex(sig) {
		return 0, "", false
	}
	return v, sig, true
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

func (v *verifier) verify(fields map[string]string, sig string, accept canon.Versions) bool {
	enc, digits, ok := SigVersion(sig)
	if !ok || !accept.Has(enc) {
		return false
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(digits)); err != nil {
		return false
	}
	st := v.pool.Get().(*verifyState)
	defer v.pool.Put(st)
	var valid bool
	if st.buf, valid = canon.AppendValid(st.buf[:0], enc, header(enc), fields, isSig); !valid {
		return false // a name that could fold fields (v1): refused before any HMAC
	}
	st.mac.Reset()
	st.mac.Write(st.buf)
	st.sum = st.mac.Sum(st.sum[:0])
	return hmac.Equal(got[:], st.sum)
}

// EncodingsEnv is the environment variable (flag --plan-encodings) that
// sets which plan encodings the apply layer accepts: "v2" (the default)
// or "v1,v2" while producers move (canon.ParseVersions reads it;
// Secrets.WithEncodings applies it).
const EncodingsEnv = "QUANTUM_PLAN_ENCODINGS"
