package policystore

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// FileRelease is a publish as `quantum policy publish` is given it: the
// signing key's file, the trusted keys' files, the content JSON and the
// Release.
type FileRelease struct {
	KeyPath string // the signing key (mode 0600)
	// Pubkeys are trusted public key files, comma-separated: the signing
	// key must be one of them; "" trusts the signing key's own.
	Pubkeys string
	Name    string                        // the content's path as given, its name in errors ("-" is named stdin)
	Open    func() (io.ReadCloser, error) // the content JSON
	// ReplaceLegacy moves a legacy policy key aside first (ReplaceLegacy);
	// its seq is published unless Release.Seq is set.
	ReplaceLegacy bool
	Release
	// Redis opens the client, after the key and the content are read; it
	// is closed on return.
	Redis func() (redis.UniversalClient, error)
	Keys  keys.Space
	Now   func() time.Time
}

// PublishFile loads the key, the trusted keys and the content, replaces a
// legacy key when asked, and signs and publishes (SignAndPublish). A
// refusal of the publish itself that carries a reason code reads
// "refused: CODE: why", so scripts can match the code. legacy is the audit
// detail of a legacy key moved aside ("" when none was), returned even
// when the publish then fails.
func PublishFile(ctx context.Context, fr FileRelease) (sp *policy.Signed, pub *Published, legacy string, err error) {
	key, err := policy.LoadPrivateKey(fr.KeyPath)
	if err != nil {
		return nil, nil, "", err
	}
	ring := policy.NewTrustedKeys(key.Public())
	if paths := secretfile.SplitList(fr.Pubkeys); len(paths) > 0 {
		if ring, err = policy.LoadTrustedKeys(paths...); err != nil {
			return nil, nil, "", err
		}
	}
	f, err := fr.Open()
	if err != nil {
		return nil, nil, "", err
	}
	name := fr.Name
	if name == "-" {
		name = "stdin"
	}
	content, err := policy.ParseContentFile(name, f)
	f.Close()
	if err != nil {
		return nil, nil, "", err
	}
	rdb, err := fr.Redis()
	if err != nil {
		return nil, nil, "", err
	}
	defer rdb.Close()
	store, err := New(rdb, Options{Keys: fr.Keys, Keyring: ring, Now: fr.Now})
	if err != nil {
		return nil, nil, "", err
	}
	if fr.ReplaceLegacy {
		next, detail, err := store.ReplaceLegacy(ctx, fr.Actor)
		if err != nil {
			return nil, nil, "", err
		}
		legacy = detail
		if fr.Seq == 0 {
			fr.Seq = next
		}
	}
	sp, pub, err = store.SignAndPublish(ctx, content, key, fr.Release)
	if err != nil && reason.CodeOf(err) != "" {
		err = fmt.Errorf("refused: %w", err)
	}
	return sp, pub, legacy, err
}
