package policystore_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var t0 = time.Unix(1_780_000_000, 0)

type fixture struct {
	env   *redistest.Env
	key   *policy.PrivateKey
	clock *testkit.Clock
	store *policystore.Store
}

func newFixture(t testing.TB) *fixture {
	env := redistest.New(t)
	k := policytest.Key(t)
	c := testkit.NewClock(t0)
	s, err := policystore.New(env.Client, policystore.Options{
		Keys: env.Keys, Keyring: policy.NewTrustedKeys(k.Public()), Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, key: k, clock: c, store: s}
}

// publish signs Sample(now, seq) and publishes it.
func (f *fixture) publish(t testing.TB, seq uint64) *policy.Signed {
	t.Helper()
	sp := policytest.Sign(t, policytest.Sample(f.clock.Now(), seq), f.key)
	if _, err := f.store.Publish(context.Background(), sp, "test"); err != nil {
		t.Fatalf("publish seq %d: %v", seq, err)
	}
	return sp
}

// writeRaw replaces the stored hash with fields, bypassing Publish, as a
// hostile or broken writer would.
func (f *fixture) writeRaw(t testing.TB, fields map[string]string) {
	t.Helper()
	ctx := context.Background()
	k := f.env.Keys.PolicyCurrent()
	if err := f.env.Client.Del(ctx, k).Err(); err != nil {
		t.Fatal(err)
	}
	if len(fields) > 0 {
		if err := f.env.Client.HSet(ctx, k, fields).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadReasonCodes covers every reason code of Load against real Redis,
// with an injected clock.
func TestLoadReasonCodes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		want  reason.Code
	}{
		{"fresh signed policy", func(t *testing.T, f *fixture) { f.publish(t, 1) }, ""},
		{"POLICY_MISSING: nothing stored", func(t *testing.T, f *fixture) {}, reason.PolicyMissing},
		{"POLICY_MISSING_FIELD: HDEL harvest_params", func(t *testing.T, f *fixture) {
			f.publish(t, 1)
			f.env.Client.HDel(ctx, f.env.Keys.PolicyCurrent(), "harvest_params")
		}, reason.PolicyMissingField},
		{"POLICY_MISSING_FIELD: the six Python fields only", func(t *testing.T, f *fixture) {
			f.writeRaw(t, map[string]string{
				"universe_symbols": `["BTCUSDT"]`, "leverage_by_symbol": `{"BTCUSDT":10}`,
				"harvest_params": "{}", "kill_params": "{}", "valid_until_epoch": "1780009999", "policy_version": "1.0.0",
			})
		}, reason.PolicyMissingField},
		{"POLICY_PARSE_ERROR: signed garbage JSON", func(t *testing.T, f *fixture) {
			fields := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 1), f.key))
			fields["kill_params"] = "{not json"
			f.writeRaw(t, policy.SignFields(fields, f.key))
		}, reason.PolicyParseError},
		{"POLICY_PARSE_ERROR: key is a string", func(t *testing.T, f *fixture) {
			f.env.Client.Set(ctx, f.env.Keys.PolicyCurrent(), "hello", 0)
		}, reason.PolicyParseError},
		{"POLICY_INVALID: signed leverage 200", func(t *testing.T, f *fixture) {
			fields := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 1), f.key))
			fields["leverage_by_symbol"] = `{"BTCUSDT":200,"ETHUSDT":10,"SOLUSDT":6}`
			f.writeRaw(t, policy.SignFields(fields, f.key))
		}, reason.PolicyInvalid},
		{"POLICY_HASH_MISMATCH: HSET universe_symbols", func(t *testing.T, f *fixture) {
			f.publish(t, 1)
			f.env.Client.HSet(ctx, f.env.Keys.PolicyCurrent(), "universe_symbols", `["BTCUSDT","ETHUSDT","SOLUSDT","DOGEUSDT"]`)
		}, reason.PolicyHashMismatch},
		{"POLICY_HASH_MISMATCH: extra field", func(t *testing.T, f *fixture) {
			f.publish(t, 1)
			f.env.Client.HSet(ctx, f.env.Keys.PolicyCurrent(), "default_leverage", "50")
		}, reason.PolicyHashMismatch},
		{"POLICY_UNSIGNED: HDEL signature", func(t *testing.T, f *fixture) {
			f.publish(t, 1)
			f.env.Client.HDel(ctx, f.env.Keys.PolicyCurrent(), "signature")
		}, reason.PolicyUnsigned},
		{"POLICY_SIGNATURE_INVALID: HSET signature", func(t *testing.T, f *fixture) {
			sp := f.publish(t, 1)
			sig := []byte(sp.Signature)
			sig[0] ^= 1
			f.env.Client.HSet(ctx, f.env.Keys.PolicyCurrent(), "signature", string(sig))
		}, reason.PolicySignatureInvalid},
		{"POLICY_SIGNATURE_INVALID: unknown signer", func(t *testing.T, f *fixture) {
			other := policytest.Key(t)
			f.writeRaw(t, policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 1), other)))
		}, reason.PolicySignatureInvalid},
		{"POLICY_STALE: clock past valid_until", func(t *testing.T, f *fixture) {
			f.publish(t, 1)
			f.clock.Set(t0.Add(2*time.Hour + time.Second))
		}, reason.PolicyStale},
		{"POLICY_NOT_YET_VALID: issued an hour ahead", func(t *testing.T, f *fixture) {
			f.writeRaw(t, policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0.Add(time.Hour), 1), f.key)))
		}, reason.PolicyNotYetValid},
		{"POLICY_ROLLBACK: older seq after a newer one", func(t *testing.T, f *fixture) {
			old := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 4), f.key))
			f.publish(t, 5)
			if _, err := f.store.Load(ctx); err != nil {
				t.Fatalf("load seq 5: %v", err)
			}
			f.writeRaw(t, old)
		}, reason.PolicyRollback},
		{"POLICY_UNAVAILABLE: redis down", func(t *testing.T, f *fixture) {
			down := redis.NewClient(&redis.Options{Network: "unix", Addr: t.TempDir() + "/nobody.sock", MaxRetries: -1})
			t.Cleanup(func() { down.Close() })
			s, err := policystore.New(down, policystore.Options{Keys: f.env.Keys, Keyring: policy.NewTrustedKeys(f.key.Public()), Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			f.store = s
		}, reason.PolicyUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tc.setup(t, f)
			sp, err := f.store.Load(ctx)
			if got := reason.CodeOf(err); got != tc.want {
				t.Fatalf("Load code = %q, want %q (err: %v)", got, tc.want, err)
			}
			if (sp == nil) == (tc.want == "") {
				t.Fatalf("Load returned policy %v with error %v", sp, err)
			}
		})
	}
}

// TestPublishReplacesWholeHash: no field of an older policy survives a
// publish, and each publish appends one update event and one audit entry.
func TestPublishReplacesWholeHash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publish(t, 1)
	f.env.Client.HSet(ctx, f.env.Keys.PolicyCurrent(), "stale_field", "x")
	p := policytest.Sample(t0, 2)
	p.MaxNotionalUSDTBySymbol = nil
	p.MaxOrdersPerMinute = 0
	sp := policytest.Sign(t, p, f.key)
	pub, err := f.store.Publish(ctx, sp, "alice")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyCurrent()).Result()
	want := policytest.Fields(t, sp)
	if len(stored) != len(want) {
		t.Fatalf("stored %d fields, want %d: %v", len(stored), len(want), stored)
	}
	for k, v := range want {
		if stored[k] != v {
			t.Errorf("%s = %q, want %q", k, stored[k], v)
		}
	}
	got, err := f.store.Load(ctx)
	if err != nil || got.Hash != sp.Hash {
		t.Fatalf("load after publish: %v", err)
	}

	updates := redistest.StreamEntries(t, f.env.Client, f.env.Keys.PolicyUpdate())
	if len(updates) != 2 {
		t.Fatalf("%d update events, want 2", len(updates))
	}
	u := updates[1]
	if u["event"] != "policy.updated" || u["policy_seq"] != "2" || u["policy_hash"] != sp.Hash ||
		u["policy_version"] != "1.0.0-test" || u["timestamp"] != strconv.FormatInt(t0.Unix(), 10) {
		t.Errorf("update event %v", u)
	}
	audit := redistest.StreamEntries(t, f.env.Client, f.env.Keys.PolicyAudit())
	if len(audit) != 2 {
		t.Fatalf("%d audit entries, want 2", len(audit))
	}
	a := audit[1]
	wantAudit := map[string]string{
		"policy_version": "1.0.0-test", "policy_hash": sp.Hash, "policy_seq": "2",
		"valid_until_epoch": strconv.FormatInt(p.ValidUntil, 10), "created_at_epoch": strconv.FormatInt(t0.Unix(), 10),
		"generator": "policytest", "universe_count": "3", "leverage_range": "6.0x-15.0x",
		"actor": "alice", "result": "published", "key_id": f.key.KeyID(),
	}
	for k, v := range wantAudit {
		if a[k] != v {
			t.Errorf("audit %s = %q, want %q", k, a[k], v)
		}
	}
	if pub.AuditEntryID == "" || pub.UpdateEntryID == "" {
		t.Errorf("publish result lacks entry ids: %+v", pub)
	}
	entries, err := f.store.Audit(ctx, 1)
	if err != nil || len(entries) != 1 || entries[0].Seq != "2" || entries[0].ID != pub.AuditEntryID {
		t.Errorf("Audit(1) = %+v, %v", entries, err)
	}
}

// TestRefusedPublishChangesNothing: a lower or equal seq, an invalid
// policy, an untrusted signer and a broken stream key are all refused with
// a code, and Redis is left exactly as it was.
func TestRefusedPublishChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	live := f.publish(t, 5)
	snapshot := func() string {
		h, _ := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyCurrent()).Result()
		u, _ := f.env.Client.XLen(ctx, f.env.Keys.PolicyUpdate()).Result()
		a, _ := f.env.Client.XLen(ctx, f.env.Keys.PolicyAudit()).Result()
		return fmt.Sprint(h, u, a)
	}
	before := snapshot()

	stale := policytest.Sample(t0.Add(-3*time.Hour), 9)
	cases := []struct {
		name string
		sp   *policy.Signed
		want reason.Code
	}{
		{"lower seq", policytest.Sign(t, policytest.Sample(t0, 4), f.key), reason.PolicyRollback},
		{"equal seq", policytest.Sign(t, policytest.Sample(t0, 5), f.key), reason.PolicyRollback},
		{"untrusted signer", policytest.Sign(t, policytest.Sample(t0, 6), policytest.Key(t)), reason.PolicySignatureInvalid},
		{"already stale", policytest.Sign(t, stale, f.key), reason.PolicyStale},
	}
	for _, tc := range cases {
		_, err := f.store.Publish(ctx, tc.sp, "test")
		if reason.CodeOf(err) != tc.want {
			t.Errorf("%s: code %q, want %q (%v)", tc.name, reason.CodeOf(err), tc.want, err)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s: a refused publish changed Redis:\n%s\n%s", tc.name, before, after)
		}
	}

	// A tampered Signed (content changed after signing) is refused too.
	forged := *live
	forged.Seq = 6
	if _, err := f.store.Publish(ctx, &forged, "test"); reason.CodeOf(err) != reason.PolicyHashMismatch {
		t.Errorf("forged publish: %v", err)
	}

	// The audit stream is not a stream: the script refuses before writing.
	f.env.Client.Del(ctx, f.env.Keys.PolicyAudit())
	f.env.Client.Set(ctx, f.env.Keys.PolicyAudit(), "oops", 0)
	h1, _ := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyCurrent()).Result()
	_, err := f.store.Publish(ctx, policytest.Sign(t, policytest.Sample(t0, 7), f.key), "test")
	if reason.CodeOf(err) != reason.PolicyUnavailable {
		t.Errorf("publish onto a broken audit key: %v", err)
	}
	h2, _ := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyCurrent()).Result()
	if fmt.Sprint(h1) != fmt.Sprint(h2) {
		t.Fatal("a failed publish script wrote the policy before failing")
	}
}

// TestPublishRace: publishers racing for the same seq. Exactly one wins,
// the audit stream holds exactly one entry for that seq, and the live hash
// is wholly one of the contenders, never a mix.
func TestPublishRace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const rounds, racers = 30, 4
	for seq := uint64(1); seq <= rounds; seq++ {
		contenders := make([]map[string]string, racers)
		signed := make([]*policy.Signed, racers)
		for i := range signed {
			p := policytest.Sample(t0, seq)
			p.Version = fmt.Sprintf("racer-%d", i)
			p.LeverageBySymbol["BTCUSDT"] = 1 + i
			signed[i] = policytest.Sign(t, p, f.key)
			contenders[i] = policytest.Fields(t, signed[i])
		}
		var wg sync.WaitGroup
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range signed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = f.store.Publish(ctx, signed[i], fmt.Sprintf("racer-%d", i))
			}()
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch reason.CodeOf(err) {
			case "":
				if err != nil {
					t.Fatalf("racer %d: %v", i, err)
				}
				winners++
			case reason.PolicyRollback:
			default:
				t.Fatalf("racer %d: unexpected %v", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("seq %d: %d winners, want 1", seq, winners)
		}
		live, _ := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyCurrent()).Result()
		match := -1
		for i, c := range contenders {
			if fmt.Sprint(c) == fmt.Sprint(live) {
				match = i
			}
		}
		if match < 0 || errs[match] != nil {
			t.Fatalf("seq %d: live hash is not the winner's: %v", seq, live)
		}
		n := 0
		for _, a := range redistest.StreamEntries(t, f.env.Client, f.env.Keys.PolicyAudit()) {
			if a["policy_seq"] == strconv.FormatUint(seq, 10) {
				n++
				if a["actor"] != fmt.Sprintf("racer-%d", match) || a["policy_hash"] != live["policy_hash"] {
					t.Fatalf("seq %d: audit entry %v is not the winner's", seq, a)
				}
			}
		}
		if n != 1 {
			t.Fatalf("seq %d: %d audit entries, want 1", seq, n)
		}
	}
}

// TestTamperPropertyAgainstRedis: any change to any stored field of a signed
// policy, short of re-signing with a trusted key, makes Load fail.
func TestTamperPropertyAgainstRedis(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sp := f.publish(t, 1)
	orig := policytest.Fields(t, sp)
	names := make([]string, 0, len(orig))
	for k := range orig {
		names = append(names, k)
	}
	sort.Strings(names) // rapid replays a failure only over a stable order
	attacker := policytest.Key(t)
	rapid.Check(t, func(rt *rapid.T) {
		fields := make(map[string]string, len(orig)+1)
		for k, v := range orig {
			fields[k] = v
		}
		field := rapid.SampledFrom(names).Draw(rt, "field")
		switch op := rapid.IntRange(0, 4).Draw(rt, "op"); op {
		case 0: // replace the value with anything else
			v := rapid.String().Filter(func(s string) bool { return s != orig[field] }).Draw(rt, "value")
			fields[field] = v
		case 1: // flip one byte
			v := []byte(fields[field])
			if len(v) == 0 {
				v = []byte("x")
			} else {
				i := rapid.IntRange(0, len(v)-1).Draw(rt, "byte")
				v[i] ^= byte(rapid.IntRange(1, 255).Draw(rt, "xor"))
			}
			fields[field] = string(v)
		case 2: // delete the field
			delete(fields, field)
		case 3: // add a field
			name := rapid.StringMatching(`[a-z_]{1,20}`).Filter(func(s string) bool { _, ok := orig[s]; return !ok }).Draw(rt, "new")
			fields[name] = rapid.String().Draw(rt, "newvalue")
		case 4: // change a field and re-sign with an untrusted key
			fields[field] = fields[field] + " "
			fields = policy.SignFields(fields, attacker)
		}
		f.writeRaw(t, fields)
		if got, err := f.store.Load(ctx); err == nil {
			rt.Fatalf("tampered policy loaded: %v", got.Hash)
		} else if reason.CodeOf(err) == "" {
			rt.Fatalf("refusal without a reason code: %v", err)
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	f := newFixture(b)
	f.publish(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.store.Load(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
