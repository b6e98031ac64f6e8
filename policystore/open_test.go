package policystore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// dialer counts the clients it makes and remembers the last.
type dialer struct {
	f    *fixture
	n    int
	last redis.UniversalClient
}

func (d *dialer) dial() (redis.UniversalClient, error) {
	d.n++
	d.last = d.f.env.Server.Client()
	return d.last, nil
}

func (f *fixture) pubkeyFile(t *testing.T) string {
	t.Helper()
	_, pub, err := policy.WriteKeyPair(filepath.Join(t.TempDir(), "k"), f.key)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestShow: no policy is POLICY_MISSING naming the key; a stored policy's
// fields come back unchecked without keys, verified with them, refused
// (with the code) when a signed field was changed by a writer.
func TestShow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	d := &dialer{f: f}
	opt := policystore.Options{Keys: f.env.Keys, Now: f.clock.Now, ClockSkew: policystore.DefaultClockSkew}
	_, _, err := policystore.Show(ctx, d.dial, "", "", opt)
	if err == nil || err.Error() != "POLICY_MISSING: no policy at "+f.env.Keys.PolicyCurrent() {
		t.Fatalf("no policy: %v", err)
	}
	sp := f.publish(t, 1)
	fields, v, err := policystore.Show(ctx, d.dial, "", "", opt)
	if err != nil || fields[policy.FieldSeq] != "1" || v.Checked {
		t.Fatalf("no keys: %v %v %+v", fields, err, v)
	}
	pub := f.pubkeyFile(t)
	if _, v, err = policystore.Show(ctx, d.dial, pub, "", opt); err != nil || !v.Checked || v.Err != nil || v.Policy.Hash != sp.Hash {
		t.Fatalf("with the key: %+v, %v", v, err)
	}
	if err := f.env.Client.HSet(ctx, f.env.Keys.PolicyCurrent(), policy.FieldValidUntil, "99999999999").Err(); err != nil {
		t.Fatal(err)
	}
	if _, v, err = policystore.Show(ctx, d.dial, pub, "", opt); err != nil || v.Policy != nil || reason.CodeOf(v.Err) != reason.PolicyHashMismatch {
		t.Fatalf("a changed field: %+v, %v; want POLICY_HASH_MISMATCH", v, err)
	}
	if err := d.last.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client left open: %v", err)
	}
}

// TestWithTrusted: an unusable key file fails before any client is made;
// with usable keys (or none) f gets them and a client closed after it.
func TestWithTrusted(t *testing.T) {
	f := newFixture(t)
	d := &dialer{f: f}
	ping := func(ring *policy.TrustedKeys, rdb redis.UniversalClient) (*policy.TrustedKeys, error) {
		return ring, rdb.Ping(context.Background()).Err()
	}
	if _, err := policystore.WithTrusted(d.dial, filepath.Join(t.TempDir(), "missing.pub"), "", ping); err == nil || d.n != 0 {
		t.Fatalf("missing key file: %v, %d clients made", err, d.n)
	}
	if ring, err := policystore.WithTrusted(d.dial, "", "", ping); err != nil || ring != nil || d.n != 1 {
		t.Fatalf("no keys: %v, %v", ring, err)
	}
	ring, err := policystore.WithTrusted(d.dial, f.pubkeyFile(t), "", ping)
	if err != nil || ring == nil {
		t.Fatalf("a key: %v, %v", ring, err)
	}
	if err := d.last.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client left open: %v", err)
	}
}

// TestReadAudit: the newest entries first, over a client closed after.
func TestReadAudit(t *testing.T) {
	f := newFixture(t)
	d := &dialer{f: f}
	f.publish(t, 1)
	f.publish(t, 2)
	entries, err := policystore.ReadAudit(context.Background(), d.dial, policystore.Options{Keys: f.env.Keys, Now: f.clock.Now}, 1)
	if err != nil || len(entries) != 1 || entries[0].Seq != "2" || entries[0].Result != "published" {
		t.Fatalf("%+v, %v; want the publish of seq 2 only", entries, err)
	}
	if err := d.last.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client left open: %v", err)
	}
}
