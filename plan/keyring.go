package plan

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/secretfile"
)

// MinSecretBytes is the shortest secret a keyring accepts.
const MinSecretBytes = 32

// Secrets maps each producing service (source) to its own HMAC secret.
type Secrets struct {
	secrets   map[string][]byte
	verifiers map[string]*verifier
	accept    canon.Versions // the zero set: v2 only
}

// WithEncodings returns the keyring accepting sigs over the encodings in
// vs (canon.ParseVersions reads "v2" or "v1,v2"); a new keyring accepts v2
// only. The secrets are shared.
func (k *Secrets) WithEncodings(vs canon.Versions) *Secrets {
	if k == nil {
		return nil
	}
	c := *k
	c.accept = vs
	return &c
}

// Encodings returns the encodings the keyring accepts.
func (k *Secrets) Encodings() canon.Versions {
	if k == nil || k.accept == 0 {
		return canon.DefaultVersions
	}
	return k.accept
}

// NewSecrets returns a keyring of the given secrets.
func NewSecrets(secrets map[string][]byte) *Secrets {
	k := &Secrets{secrets: make(map[string][]byte, len(secrets))}
	for s, b := range secrets {
		k.secrets[s] = append([]byte(nil), b...)
	}
	k.index()
	return k
}

func (k *Secrets) index() {
	k.verifiers = make(map[string]*verifier, len(k.secrets))
	for s, b := range k.secrets {
		k.verifiers[s] = newVerifier(b)
	}
}

// Secret returns the secret of source.
func (k *Secrets) Secret(source string) ([]byte, bool) {
	if k == nil {
		return nil, false
	}
	s, ok := k.secrets[source]
	return s, ok
}

// Verify checks sigHex against fields with the secret of source, over the
// encodings the keyring accepts. known is false when the keyring has no
// secret for source.
func (k *Secrets) Verify(source string, fields map[string]string, sigHex string) (known, ok bool) {
	if k == nil {
		return false, false
	}
	v, known := k.verifiers[source]
	if !known {
		return false, false
	}
	return true, v.verify(fields, sigHex, k.accept)
}

// Sources lists the keyring's sources, sorted.
func (k *Secrets) Sources() []string {
	return slices.Sorted(maps.Keys(k.secrets))
}

// ParseSecrets reads keyring lines: "SOURCE SECRET", SECRET being at least
// 32 bytes as hex; blank lines and lines starting with # are ignored. A
// source listed twice is an error. Messages never contain a column that
// could be a secret: a line with its columns swapped, or a secret in the
// source column, names the line only.
func ParseSecrets(data []byte) (*Secrets, error) {
	k := &Secrets{secrets: map[string][]byte{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("keyring line %d: want \"SOURCE SECRET\" (%d columns found; none is shown, any could be a secret)", n, len(f))
		}
		source, secretHex := f[0], f[1]
		if looksLikeSecret(source) {
			return nil, fmt.Errorf("keyring line %d: the first column looks like a secret (long hex), not a source: are the columns swapped? want \"SOURCE SECRET\"", n)
		}
		if !ValidSource(source) {
			return nil, fmt.Errorf("keyring line %d: the source column is not 1-64 of [A-Za-z0-9._-] (not shown: it could be a secret)", n)
		}
		secret, err := hex.DecodeString(secretHex)
		if err != nil || len(secret) < MinSecretBytes {
			return nil, fmt.Errorf("keyring line %d (source %s): the secret must be at least %d bytes of hex (quantum plan keygen --source %s makes one)", n, source, MinSecretBytes, source)
		}
		if _, dup := k.secrets[source]; dup {
			return nil, fmt.Errorf("keyring line %d: source %s listed twice", n, source)
		}
		k.secrets[source] = secret
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if len(k.secrets) == 0 {
		return nil, fmt.Errorf("keyring: no SOURCE SECRET line")
	}
	k.index()
	return k, nil
}

// looksLikeSecret reports whether a source column could be a secret: 32
// or more hex digits (a secret is at least 64). No source is named so.
func looksLikeSecret(s string) bool {
	if len(s) < 32 {
		return false
	}
	_, err := hex.DecodeString(s[:len(s)&^1])
	return err == nil
}

// LoadSecrets reads a keyring file after checking that only its owner can
// read it.
func LoadSecrets(path string) (*Secrets, error) {
	if err := secretfile.Check(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k, err := ParseSecrets(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// KeygenLine returns a new keyring line for source.
func KeygenLine(source string) (string, error) {
	if !ValidSource(source) {
		return "", fmt.Errorf("source %q: want 1-64 of [A-Za-z0-9._-]", source)
	}
	b := make([]byte, MinSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return source + " " + hex.EncodeToString(b), nil
}
