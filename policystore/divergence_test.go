package policystore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// legacySecret is a value a legacy writer puts in the hash: no output may
// echo it.
const legacySecret = "sk-live-0123456789abcdef"

// TestDivergenceNamesLegacyFields: on a real Redis, after a publish, each
// way a legacy writer changes the live hash (LEGACY.md) is named exactly,
// field by field, by Divergence and by ExplainIntegrity's error (code
// kept), and no value is echoed; a tampered or missing published copy
// falls back to naming only fields no policy has, and says why.
func TestDivergenceNamesLegacyFields(t *testing.T) {
	ctx := context.Background()
	type want struct {
		known                                bool
		outside, changed, missing, rewritten []string
		note                                 string
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, f *fixture, published map[string]string)
		code   reason.Code
		want   want
	}{
		{"save(): two HSETs, its own policy_hash, extra fields", func(t *testing.T, f *fixture, p map[string]string) {
			// lib/policy_store.py save(): the six fields as it formats them
			// (leverage, harvest and kill unchanged here), then its hash.
			hset(t, f, f.env.Keys.PolicyCurrent(), "universe_symbols", `["BTCUSDT", "ETHUSDT", "SOLUSDT"]`, "leverage_by_symbol", p["leverage_by_symbol"],
				"harvest_params", p["harvest_params"], "kill_params", p["kill_params"], "valid_until_epoch", "1780003600.123456", "policy_version", "1.0",
				"generated_by", "ai_universe_generator_v1", "api_token", legacySecret)
			hset(t, f, f.env.Keys.PolicyCurrent(), "policy_hash", "0f"+strings.Repeat("ab", 31))
		}, reason.PolicyHashMismatch, want{true, []string{"api_token", "generated_by"}, []string{"policy_version", "universe_symbols", "valid_until_epoch"}, nil, []string{"policy_hash"}, ""}},
		{"policy_refresh_direct.py: HSET valid_until_epoch", func(t *testing.T, f *fixture, p map[string]string) {
			hset(t, f, f.env.Keys.PolicyCurrent(), "valid_until_epoch", "1780009999")
		}, reason.PolicyHashMismatch, want{true, nil, []string{"valid_until_epoch"}, nil, nil, ""}},
		{"intent_bridge: HSET universe_symbols and valid_until_epoch", func(t *testing.T, f *fixture, p map[string]string) {
			hset(t, f, f.env.Keys.PolicyCurrent(), "universe_symbols", `["BTCUSDT","DOGEUSDT"]`, "valid_until_epoch", "1780009999")
		}, reason.PolicyHashMismatch, want{true, nil, []string{"universe_symbols", "valid_until_epoch"}, nil, nil, ""}},
		{"a writer that recomputed our hash", func(t *testing.T, f *fixture, p map[string]string) {
			live := f.raw(t)
			live["trading_state"] = "ACTIVE" // unchanged
			live["kill_params"] = `{"k_close_threshold": 0.99}`
			hset(t, f, f.env.Keys.PolicyCurrent(), "kill_params", live["kill_params"], "policy_hash", policy.Hash(live))
		}, reason.PolicySignatureInvalid, want{true, nil, []string{"kill_params"}, nil, []string{"policy_hash"}, ""}},
		{"HDEL of a signed field, hostile names", func(t *testing.T, f *fixture, p map[string]string) {
			if err := f.env.Client.HDel(ctx, f.env.Keys.PolicyCurrent(), "harvest_params").Err(); err != nil {
				t.Fatal(err)
			}
			hset(t, f, f.env.Keys.PolicyCurrent(), "x\nPOLICY OK", "1")
		}, reason.PolicyInvalid, want{}}, // a bad name is refused before the hash: no integrity refusal, nothing added
		{"HDEL of a signed field", func(t *testing.T, f *fixture, p map[string]string) {
			if err := f.env.Client.HDel(ctx, f.env.Keys.PolicyCurrent(), "harvest_params").Err(); err != nil {
				t.Fatal(err)
			}
		}, reason.PolicyMissingField, want{}},
		{"HDEL of an optional signed field", func(t *testing.T, f *fixture, p map[string]string) {
			if err := f.env.Client.HDel(ctx, f.env.Keys.PolicyCurrent(), "max_orders_per_minute").Err(); err != nil {
				t.Fatal(err)
			}
		}, reason.PolicyHashMismatch, want{true, nil, nil, []string{"max_orders_per_minute"}, nil, ""}},
		{"the published copy changed too", func(t *testing.T, f *fixture, p map[string]string) {
			hset(t, f, f.env.Keys.PolicyCurrent(), "valid_until_epoch", "1780009999", "legacy_note", "x")
			hset(t, f, f.env.Keys.PolicyPublished(), "valid_until_epoch", "1780009999", "legacy_note", "x")
		}, reason.PolicyHashMismatch, want{false, []string{"legacy_note"}, nil, nil, nil, "does not verify either (POLICY_HASH_MISMATCH)"}},
		{"no published copy (an older release published)", func(t *testing.T, f *fixture, p map[string]string) {
			if err := f.env.Client.Del(ctx, f.env.Keys.PolicyPublished()).Err(); err != nil {
				t.Fatal(err)
			}
			hset(t, f, f.env.Keys.PolicyCurrent(), "valid_until_epoch", "1780009999", "generated_by", "x")
		}, reason.PolicyHashMismatch, want{false, []string{"generated_by"}, nil, nil, nil, "no published copy at"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.publish(t, 1)
			published := f.raw(t)
			if got, _ := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyPublished()).Result(); !reflect.DeepEqual(got, published) {
				t.Fatalf("the publish did not copy what it published:\n%v\n%v", got, published)
			}
			tc.mutate(t, f, published)
			_, err := f.store.Load(ctx)
			if reason.CodeOf(err) != tc.code {
				t.Fatalf("Load: %v, want %s", err, tc.code)
			}
			explained := f.store.ExplainIntegrity(ctx, err)
			if reason.CodeOf(explained) != tc.code {
				t.Fatalf("ExplainIntegrity changed the code: %v", explained)
			}
			d := f.store.IntegrityDivergence(ctx, err)
			if tc.want.outside == nil && tc.want.changed == nil && tc.want.missing == nil && tc.want.rewritten == nil {
				if d != nil || explained.Error() != err.Error() {
					t.Fatalf("nothing to name, got %v / %v", d, explained)
				}
				return
			}
			if d == nil {
				t.Fatalf("no divergence for %v", err)
			}
			norm := func(s []string) []string {
				if len(s) == 0 {
					return nil
				}
				return s
			}
			if d.Known != tc.want.known || !reflect.DeepEqual(norm(d.Outside), tc.want.outside) || !reflect.DeepEqual(norm(d.Changed), tc.want.changed) ||
				!reflect.DeepEqual(norm(d.Missing), tc.want.missing) || !reflect.DeepEqual(norm(d.Rewritten), tc.want.rewritten) || !strings.Contains(d.Note, tc.want.note) {
				t.Fatalf("got %+v\nwant %+v", d, tc.want)
			}
			msg := explained.Error()
			for _, names := range [][]string{tc.want.outside, tc.want.changed, tc.want.missing, tc.want.rewritten} {
				for _, n := range names {
					if !strings.Contains(msg, n) {
						t.Errorf("%q does not name %s", msg, n)
					}
				}
			}
			j, _ := json.Marshal(d)
			for _, s := range []string{msg, string(j)} {
				if strings.Contains(s, legacySecret) || strings.Contains(s, "ai_universe_generator_v1") || strings.Contains(s, "1780009999") {
					t.Errorf("a value is echoed: %s", s)
				}
			}
		})
	}
}

// TestDivergenceHostileNames: names outside ^[A-Za-z0-9_]{1,64}$ are
// quoted and clipped in the line, so a writer cannot forge output, and a
// flood of names is cut.
func TestDivergenceHostileNames(t *testing.T) {
	d := &policystore.Divergence{Outside: []string{"x\nOK policy_version=1", strings.Repeat("a", 100)}}
	for i := range 30 {
		d.Changed = append(d.Changed, fmt.Sprintf("f%02d", i))
	}
	s := d.String()
	if strings.Contains(s, "\n") || !strings.Contains(s, `"x\nOK policy_version=1"`) || strings.Contains(s, strings.Repeat("a", 65)) ||
		!strings.Contains(s, "f19, ... and 10 more") || strings.Contains(s, "f20") {
		t.Errorf("unsafe or unbounded: %s", s)
	}
}

func hset(t *testing.T, f *fixture, key string, kv ...string) {
	t.Helper()
	args := make([]any, len(kv))
	for i, v := range kv {
		args[i] = v
	}
	if err := f.env.Client.HSet(context.Background(), key, args...).Err(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) raw(t *testing.T) map[string]string {
	t.Helper()
	m, err := f.store.Raw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}
