package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/secretfile"
)

// Results are authenticated by the apply layer: result_mac is the
// lowercase hex HMAC-SHA256, with the result key, over the quantum-result/v1
// encoding of every other field of the entry (canon v2: names and values
// length-prefixed, names in byte order). Only the apply layer's Redis user
// may write the result stream, so a forged entry means a user that should
// not write it did; readers holding the key (the exit-owner watch, status,
// the proofs) ignore an entry whose MAC does not verify and raise
// RESULT_FORGED.

// ResultMAC is the field holding a result's MAC.
const ResultMAC = "result_mac"

// ResultHeader starts the encoding a result's MAC covers.
const ResultHeader = "quantum-result/v1\n"

// MinResultKeyBytes is the shortest result key accepted.
const MinResultKeyBytes = 32

func isResultMAC(name string) bool { return name == ResultMAC }

// ResultMACOf returns the MAC of a result's fields under key.
func ResultMACOf(fields map[string]string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(canon.Encode(canon.V2, ResultHeader, fields, isResultMAC))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyResult reports whether a result entry as read (XMessage.Values)
// carries a valid MAC under key, in constant time. An entry with a field
// name outside ^[A-Za-z0-9_]{1,64}$, or a MAC that is not lowercase hex,
// does not verify.
func VerifyResult(values map[string]any, key []byte) bool {
	fields := make(map[string]string, len(values))
	for k, v := range values {
		s, ok := v.(string)
		if !ok || !canon.ValidName(k) {
			return false
		}
		fields[k] = s
	}
	got := fields[ResultMAC]
	if len(got) != 64 || !canon.LowerHex(got) {
		return false
	}
	want := ResultMACOf(fields, key)
	return hmac.Equal([]byte(got), []byte(want))
}

// LoadResultKeyIfSet is LoadResultKey, or no key (nil, nil) when path is
// "": none is configured.
func LoadResultKeyIfSet(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return LoadResultKey(path)
}

// LoadResultKey reads the result key: a file of mode 0600 (or stricter)
// holding at least MinResultKeyBytes of lowercase hex, on one line
// (`openssl rand -hex 32`). Errors never quote the file's content.
func LoadResultKey(path string) ([]byte, error) {
	if err := secretfile.Check(path); err != nil {
		return nil, fmt.Errorf("result key: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("result key: %w", err)
	}
	h := strings.TrimSpace(string(b))
	key, err := hex.DecodeString(h)
	if err != nil || !canon.LowerHex(h) || len(key) < MinResultKeyBytes {
		return nil, fmt.Errorf("result key %s: want one line of at least %d bytes of lowercase hex (openssl rand -hex 32)", path, MinResultKeyBytes)
	}
	return key, nil
}
