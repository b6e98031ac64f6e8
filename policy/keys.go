package policy

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/quantumtrader/quantum/internal/canon"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/reason"
)

// Key files are PEM: the private key as PKCS#8 ("PRIVATE KEY"), public keys
// as PKIX ("PUBLIC KEY"), the formats openssl and Python's cryptography read
// and write (`openssl pkey -in policy.key -pubout` gives policy.pub).

// PrivateKey is a policy signing key.
type PrivateKey struct {
	key ed25519.PrivateKey
	id  string
}

// KeyID returns the key's id (see KeyIDOf).
func (k *PrivateKey) KeyID() string { return k.id }

// Public returns the key's public half.
func (k *PrivateKey) Public() ed25519.PublicKey { return k.key.Public().(ed25519.PublicKey) }

// KeyIDOf returns the key_id of a public key: the first 16 hex digits of the
// SHA-256 of its 32 raw bytes.
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey returns a new signing key.
func GenerateKey() (*PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return &PrivateKey{key: priv, id: KeyIDOf(pub)}, nil
}

// NewPrivateKey wraps an ed25519 private key.
func NewPrivateKey(priv ed25519.PrivateKey) *PrivateKey {
	return &PrivateKey{key: priv, id: KeyIDOf(priv.Public().(ed25519.PublicKey))}
}

// WriteKeyPair writes dir/policy.key (mode 0600) and dir/policy.pub (mode
// 0644), refusing to overwrite either.
func WriteKeyPair(dir string, k *PrivateKey) (keyPath, pubPath string, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return "", "", fmt.Errorf("encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return "", "", fmt.Errorf("encode public key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create key directory: %w", err)
	}
	keyPath = filepath.Join(dir, "policy.key")
	pubPath = filepath.Join(dir, "policy.pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return "", "", fmt.Errorf("%s already exists: refusing to overwrite a key", p)
		}
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	pubPEM := fmt.Sprintf("# quantum policy public key, key_id %s\n%s", k.id,
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	if err := writeNew(pubPath, []byte(pubPEM), 0o644); err != nil {
		return "", "", err
	}
	return keyPath, pubPath, nil
}

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadPrivateKey reads a PEM PKCS#8 Ed25519 key from path after checking
// that only its owner can read it.
func LoadPrivateKey(path string) (*PrivateKey, error) {
	if err := secretfile.Check(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("policy key %s: no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("policy key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("policy key %s: not an Ed25519 key (%T)", path, k)
	}
	return NewPrivateKey(ek), nil
}

// TrustedKeys is the set of trusted policy public keys, by key_id. Holding
// several keys lets an operator rotate: trust the new key everywhere, switch
// the signer, then drop the old key.
type TrustedKeys struct {
	keys   map[string]ed25519.PublicKey
	accept canon.Versions // the zero set: v2 only
}

// WithEncodings returns the keys accepting policies signed over the
// encodings in vs (canon.ParseVersions reads "v2" or "v1,v2"); new
// TrustedKeys accept v2 only. The keys are shared.
func (r *TrustedKeys) WithEncodings(vs canon.Versions) *TrustedKeys {
	if r == nil {
		return nil
	}
	c := *r
	c.accept = vs
	return &c
}

// Encodings returns the encodings r accepts.
func (r *TrustedKeys) Encodings() canon.Versions {
	if r == nil || r.accept == 0 {
		return canon.DefaultVersions
	}
	return r.accept
}

// NewTrustedKeys trusts the given keys.
func NewTrustedKeys(pubs ...ed25519.PublicKey) *TrustedKeys {
	r := &TrustedKeys{keys: make(map[string]ed25519.PublicKey, len(pubs))}
	for _, p := range pubs {
		r.keys[KeyIDOf(p)] = p
	}
	return r
}

// IDs returns the trusted key ids, sorted.
func (r *TrustedKeys) IDs() []string {
	if r == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(r.keys))
}

// Lookup returns the key with id.
func (r *TrustedKeys) Lookup(id string) (ed25519.PublicKey, bool) {
	if r == nil {
		return nil, false
	}
	k, ok := r.keys[id]
	return k, ok
}

// LoadTrustedKeys reads every PEM "PUBLIC KEY" block of every file. A file that
// others may write is refused: whoever can replace a trusted key can sign
// policies. It is an error to end up with no key. Every error has the code
// POLICY_KEY_UNAVAILABLE: the reader's configuration is wrong, not the
// policy.
func LoadTrustedKeys(paths ...string) (*TrustedKeys, error) {
	r := &TrustedKeys{keys: map[string]ed25519.PublicKey{}}
	for _, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			return nil, reason.Errorf(reason.PolicyKeyUnavailable, "policy public key: %w", err)
		}
		if perm := st.Mode().Perm(); perm&0o022 != 0 {
			return nil, reason.Errorf(reason.PolicyKeyUnavailable, "policy public key %s has mode %04o: group and others must not write it (chmod 644 %s)", path, perm, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, reason.Errorf(reason.PolicyKeyUnavailable, "policy public key: %w", err)
		}
		n := 0
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "PUBLIC KEY" {
				continue
			}
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, reason.Errorf(reason.PolicyKeyUnavailable, "policy public key %s: %w", path, err)
			}
			ek, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, reason.Errorf(reason.PolicyKeyUnavailable, "policy public key %s: not an Ed25519 key (%T)", path, k)
			}
			r.keys[KeyIDOf(ek)] = ek
			n++
		}
		if n == 0 {
			return nil, reason.Errorf(reason.PolicyKeyUnavailable, "policy public key %s: no PEM \"PUBLIC KEY\" block", path)
		}
	}
	if len(r.keys) == 0 {
		return nil, errors.New("no policy public key configured (--pubkey or QUANTUM_POLICY_PUBKEY)")
	}
	return r, nil
}
