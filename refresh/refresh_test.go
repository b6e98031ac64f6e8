package refresh_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var t0 = time.Unix(1_780_000_000, 0)

const content = policytest.ContentJSON

// fixture is one test's refresh: a fresh key prefix on the shared Redis, a
// signing key, a template file and a clock.
type fixture struct {
	t        testing.TB
	env      *redistest.Env
	key      *policy.PrivateKey
	clock    *testkit.Clock
	store    *policystore.Store
	alerts   *alert.Publisher
	dir      string
	template string
	log      *testkit.Buffer
	cfg      refresh.Config
}

func newFixture(t testing.TB) *fixture {
	env := redistest.New(t)
	f := &fixture{t: t, env: env, key: policytest.Key(t), clock: testkit.NewClock(t0), dir: t.TempDir(), log: &testkit.Buffer{}}
	var err error
	f.store, err = policystore.New(env.Client, policystore.Options{Keys: env.Keys, Keyring: policy.NewTrustedKeys(f.key.Public()), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.alerts, err = alert.New(env.Client, alert.Options{Keys: env.Keys, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.template = f.write("policy.json", content)
	f.cfg = refresh.Config{
		Store: f.store, Alerts: f.alerts, Source: refresh.Template{Path: f.template},
		Key: func() (*policy.PrivateKey, error) { return f.key, nil },
		Log: slog.New(slog.NewTextHandler(f.log, nil)), Now: f.clock.Now, Actor: "test",
	}
	return f
}

func (f *fixture) write(name, text string) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) refresher(cfg refresh.Config) *refresh.Refresher {
	f.t.Helper()
	r, err := refresh.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// run runs one refresh with cfg and wants it published.
func (f *fixture) run(cfg refresh.Config) *refresh.Report {
	f.t.Helper()
	rep, err := f.refresher(cfg).Run(context.Background())
	if err != nil {
		f.t.Fatalf("refresh at %s: %v\nlog:\n%s", f.clock.Now().UTC().Format(time.RFC3339), err, f.log.String())
	}
	return rep
}

// snapshot is everything a refused refresh must leave as it was: the policy
// hash byte for byte (DUMP) and field by field, and the update stream.
func (f *fixture) snapshot() string {
	f.t.Helper()
	ctx := context.Background()
	dump, err := f.env.Client.Dump(ctx, f.env.Keys.PolicyCurrent()).Result()
	if err != nil {
		f.t.Fatalf("DUMP: %v", err)
	}
	h, err := f.env.Client.HGetAll(ctx, f.env.Keys.PolicyCurrent()).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	u, err := f.env.Client.XLen(ctx, f.env.Keys.PolicyUpdate()).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return fmt.Sprintf("%x %v %d", dump, h, u)
}

func (f *fixture) audit() []map[string]string {
	return redistest.StreamEntries(f.t, f.env.Client, f.env.Keys.PolicyAudit())
}

func (f *fixture) alertEntries() []map[string]string {
	return redistest.StreamEntries(f.t, f.env.Client, f.env.Keys.Alerts())
}

// TestDay is the must-show: 24 hours of refreshes every 30 minutes
// on the injected clock against a real Redis. 48 audit entries, seq strictly
// increasing, and at every simulated minute the live policy verifies, as a
// reader verifies it, with valid_until > now + 30min.
func TestDay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reader, err := policystore.New(f.env.Client, policystore.Options{Keys: f.env.Keys, Keyring: policy.NewTrustedKeys(f.key.Public()), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for minute := 0; minute < 24*60; minute++ {
		if minute%30 == 0 {
			f.run(f.cfg)
		}
		now := f.clock.Now()
		sp, err := reader.Load(ctx)
		if err != nil {
			t.Fatalf("minute %d: live policy does not verify: %v", minute, err)
		}
		if floor := now.Add(30 * time.Minute).Unix(); sp.ValidUntil <= floor {
			t.Fatalf("minute %d: valid_until %d is not after now + 30min (%d)", minute, sp.ValidUntil, floor)
		}
		f.clock.Advance(time.Minute)
	}
	audit := f.audit()
	if len(audit) != 48 {
		t.Fatalf("%d audit entries after 24h, want 48", len(audit))
	}
	var last uint64
	for i, e := range audit {
		seq, err := strconv.ParseUint(e["policy_seq"], 10, 64)
		if err != nil || seq <= last || e["result"] != policystore.ResultPublished {
			t.Fatalf("audit entry %d: policy_seq %q after %d, result %q", i, e["policy_seq"], last, e["result"])
		}
		last = seq
	}
	if n := len(f.alertEntries()); n != 0 {
		t.Fatalf("%d alerts during a day of good refreshes, want none", n)
	}
	if c := strings.Count(f.log.String(), "POLICY_STATE: "); c != 48 {
		t.Fatalf("%d POLICY_STATE log lines, want 48", c)
	}
}

// TestPublishedStampsAndLogs: what one good run writes and logs.
func TestPublishedStampsAndLogs(t *testing.T) {
	f := newFixture(t)
	f.write("policy.json", strings.Replace(content, `"trading_state"`, `"valid_until_epoch": 1780000300, "trading_state"`, 1))
	rep := f.run(f.cfg)
	sp := rep.Policy
	if sp.Seq != 1 || sp.IssuedAt != t0.Unix() || sp.ValidUntil != t0.Add(2*time.Hour).Unix() || sp.Generator != refresh.GeneratorLabel {
		t.Fatalf("stamps: seq %d issued %d valid_until %d generator %q", sp.Seq, sp.IssuedAt, sp.ValidUntil, sp.Generator)
	}
	log := f.log.String()
	for _, want := range []string{
		"[POLICY-REFRESH] the content's valid_until_epoch is ignored",
		fmt.Sprintf("[POLICY-REFRESH] POLICY_STATE: version=1.0.0-ai-v1 hash=%s valid_until=%d remaining_sec=7200", sp.Hash, sp.ValidUntil),
		fmt.Sprintf("[POLICY-REFRESH] POLICY_AUDIT: result=published policy_seq=1 entry_id=%s", rep.AuditID),
		`leverage_range=6.0x-15.0x key_id=` + f.key.KeyID(),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	a := f.audit()
	if len(a) != 1 || a[0]["result"] != "published" || a[0]["actor"] != "test" || a[0]["policy_hash"] != sp.Hash {
		t.Fatalf("audit %v", a)
	}
	// The next run takes the next seq.
	f.clock.Advance(30 * time.Minute)
	if rep := f.run(f.cfg); rep.Policy.Seq != 2 {
		t.Fatalf("second run published seq %d", rep.Policy.Seq)
	}
}

// generator returns a Source running a shell command line.
func (f *fixture) generator(command string, timeout time.Duration) refresh.Source {
	return refresh.Generator{Command: command, Timeout: timeout, Log: f.cfg.Log}
}

// TestRefusals: one case per refusal cause of the issue, and a few more.
// Each starts from a live policy published by a good run, and shows that a
// refused run leaves it byte for byte as it was, exits with its reason code,
// and writes a rejected audit entry and a POLICY_REFRESH_FAILED alert.
func TestRefusals(t *testing.T) {
	valid := func(f *fixture) string { return f.write("gen.json", content) }
	cases := []struct {
		name   string
		want   reason.Code
		detail string // in the audit entry's detail and the alert's detail
		setup  func(f *fixture, cfg *refresh.Config)
		logged string // in the log
	}{
		{name: "generator fails", want: reason.RefreshGeneratorFailed, detail: "exit status 3",
			logged: `line="model not loaded"`,
			setup: func(f *fixture, cfg *refresh.Config) {
				cfg.Source = f.generator("echo model not loaded >&2; exit 3", time.Minute)
			}},
		{name: "generator times out", want: reason.RefreshGeneratorTimeout, detail: "did not finish within 200ms",
			setup: func(f *fixture, cfg *refresh.Config) {
				cfg.Source = f.generator("cat "+valid(f)+"; sleep 30", 200*time.Millisecond)
			}},
		{name: "generator prints invalid output", want: reason.PolicyParseError, detail: "generator output",
			setup: func(f *fixture, cfg *refresh.Config) {
				cfg.Source = f.generator("echo 'generating...'; cat "+valid(f), time.Minute)
			}},
		{name: "generator prints a stamped field", want: reason.PolicyParseError, detail: `unknown field "policy_seq"`,
			setup: func(f *fixture, cfg *refresh.Config) {
				p := f.write("stamped.json", strings.Replace(content, `"trading_state"`, `"policy_seq": 99, "trading_state"`, 1))
				cfg.Source = f.generator("cat "+p, time.Minute)
			}},
		{name: "empty universe", want: reason.PolicyInvalid, detail: "universe_symbols is empty",
			setup: func(f *fixture, cfg *refresh.Config) {
				f.write("policy.json", strings.Replace(content, `["BTCUSDT", "ETHUSDT"]`, `[]`, 1))
			}},
		{name: "leverage out of range", want: reason.PolicyInvalid, detail: "leverage for ETHUSDT is 200, want 1..125",
			setup: func(f *fixture, cfg *refresh.Config) {
				f.write("policy.json", strings.Replace(content, `"ETHUSDT": 6`, `"ETHUSDT": 200`, 1))
			}},
		{name: "leverage zero", want: reason.PolicyInvalid, detail: "leverage for ETHUSDT is 0",
			setup: func(f *fixture, cfg *refresh.Config) {
				f.write("policy.json", strings.Replace(content, `"ETHUSDT": 6`, `"ETHUSDT": 0`, 1))
			}},
		{name: "leverage above the cap", want: reason.RefreshLeverageAboveCap, detail: "above the cap of 10: BTCUSDT=15",
			setup: func(f *fixture, cfg *refresh.Config) { cfg.MaxLeverage = 10 }},
		{name: "validity shorter than interval + margin", want: reason.RefreshValidityTooShort, detail: "validity 1h0m0s is shorter than interval 30m0s + margin 35m0s",
			setup: func(f *fixture, cfg *refresh.Config) { cfg.Validity = time.Hour }},
		{name: "seq conflict", want: reason.PolicyRollback, detail: "live policy_seq is 2",
			setup: func(f *fixture, cfg *refresh.Config) {
				// Someone publishes while the generator runs (an operator's
				// HALTED policy, say): the refresh must not overwrite it.
				cfg.Source = refresh.SourceFunc(func(ctx context.Context) (*policy.Content, error) {
					halted := policytest.Sample(f.clock.Now(), 2)
					halted.TradingState = policy.StateHalted
					if _, err := f.store.Publish(ctx, policytest.Sign(f.t, halted, f.key), "operator"); err != nil {
						return nil, err
					}
					return policy.ParseContent(strings.NewReader(content))
				})
			}},
		{name: "signer not trusted by readers", want: reason.PolicySignatureInvalid, detail: "not trusted",
			setup: func(f *fixture, cfg *refresh.Config) {
				other := policytest.Key(f.t)
				cfg.Key = func() (*policy.PrivateKey, error) { return other, nil }
			}},
		{name: "key file readable by others", want: reason.RefreshConfigInvalid, detail: "chmod 600",
			setup: func(f *fixture, cfg *refresh.Config) {
				dir := filepath.Join(f.dir, "keys")
				keyPath, _, err := policy.WriteKeyPair(dir, f.key)
				if err != nil {
					f.t.Fatal(err)
				}
				if err := os.Chmod(keyPath, 0o644); err != nil {
					f.t.Fatal(err)
				}
				cfg.Key = func() (*policy.PrivateKey, error) { return policy.LoadPrivateKey(keyPath) }
			}},
		{name: "template missing", want: reason.RefreshConfigInvalid, detail: "no such file",
			setup: func(f *fixture, cfg *refresh.Config) {
				cfg.Source = refresh.Template{Path: filepath.Join(f.dir, "nope.json")}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			f.run(f.cfg)
			f.clock.Advance(30 * time.Minute)
			cfg := f.cfg
			tc.setup(f, &cfg)
			before := f.snapshot()
			auditBefore := len(f.audit())
			if tc.want == reason.PolicyRollback {
				// The conflicting publish happens inside the run; what the
				// refresh must not touch is the policy as it left it.
				inner := cfg.Source
				cfg.Source = refresh.SourceFunc(func(ctx context.Context) (*policy.Content, error) {
					c, err := inner.Content(ctx)
					before = f.snapshot()
					auditBefore = len(f.audit())
					return c, err
				})
			}

			rep, err := f.refresher(cfg).Run(ctx)
			if err == nil {
				t.Fatalf("published seq %d, want a refusal with %s", rep.Policy.Seq, tc.want)
			}
			if got := reason.CodeOf(err); got != tc.want || rep.Code != tc.want {
				t.Fatalf("code %q (report %q), want %q: %v", got, rep.Code, tc.want, err)
			}
			if after := f.snapshot(); after != before {
				t.Fatalf("the live policy changed:\nbefore %s\nafter  %s", before, after)
			}
			audit := f.audit()
			if len(audit) != auditBefore+1 {
				t.Fatalf("%d audit entries, want %d", len(audit), auditBefore+1)
			}
			a := audit[len(audit)-1]
			if a["result"] != policystore.ResultRejected || a["reason"] != string(tc.want) ||
				!strings.Contains(a["detail"], tc.detail) || a["actor"] != "test" || rep.AuditID == "" {
				t.Fatalf("audit entry %v: want result=rejected reason=%s detail containing %q", a, tc.want, tc.detail)
			}
			alerts := f.alertEntries()
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			al := alerts[0]
			if al["alert_type"] != "POLICY_REFRESH_FAILED" || al["status"] != "firing" || al["reason"] != string(tc.want) ||
				al["severity"] != "warning" || al["window"] != "30min" || al["deny_count"] != "1" || !strings.Contains(al["detail"], tc.detail) ||
				al["alert_id"] != rep.Alert.AlertID || al["timestamp"] != strconv.FormatInt(f.clock.Now().Unix(), 10) {
				t.Fatalf("alert %v", al)
			}
			log := f.log.String()
			if !strings.Contains(log, "[POLICY-REFRESH] refused: the live policy is untouched") ||
				!strings.Contains(log, "POLICY_AUDIT: result=rejected reason="+string(tc.want)) || !strings.Contains(log, tc.logged) {
				t.Fatalf("log lacks the refusal lines or %q:\n%s", tc.logged, log)
			}
		})
	}
}

// TestAlertLifecycle: failures fire once and are held inside the repeat
// interval (each still audited), the first success resolves, later
// successes publish no alert.
func TestAlertLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.run(f.cfg)
	bad := f.cfg
	bad.Source = f.generator("exit 1", time.Minute)
	runBad := func(want alert.Outcome) {
		t.Helper()
		f.clock.Advance(30 * time.Minute)
		rep, err := f.refresher(bad).Run(ctx)
		if reason.CodeOf(err) != reason.RefreshGeneratorFailed || rep.Alert.Outcome != want {
			t.Fatalf("bad run: %v, alert %s, want %s", err, rep.Alert.Outcome, want)
		}
	}
	runBad(alert.Fired)
	runBad(alert.Held)
	f.clock.Advance(30 * time.Minute)
	rep := f.run(f.cfg)
	if rep.Alert.Outcome != alert.Resolved {
		t.Fatalf("good run after failures: alert %s, want resolved", rep.Alert.Outcome)
	}
	f.clock.Advance(30 * time.Minute)
	if rep := f.run(f.cfg); rep.Alert.Outcome != alert.Clear {
		t.Fatalf("second good run: alert %s, want clear", rep.Alert.Outcome)
	}
	al := f.alertEntries()
	if len(al) != 2 || al[0]["status"] != "firing" || al[1]["status"] != "resolved" || al[0]["alert_id"] != al[1]["alert_id"] ||
		al[1]["policy_seq"] != "2" || al[1]["occurrences"] != "2" {
		t.Fatalf("alerts %v: want one firing and one resolved of the same incident", al)
	}
	results := []string{}
	for _, e := range f.audit() {
		results = append(results, e["result"])
	}
	if got := strings.Join(results, ","); got != "published,rejected,rejected,published,published" {
		t.Fatalf("audit results %s", got)
	}
}

// TestExpiryAlarm: failing runs let the live policy run down; below the
// threshold POLICY_EXPIRING fires (once, deduplicated), a stale policy
// keeps it firing, and the next good run resolves it.
func TestExpiryAlarm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.run(f.cfg) // valid until t0 + 2h
	bad := f.cfg
	bad.Source = f.generator("exit 1", time.Minute)
	expiring := func() []map[string]string {
		var out []map[string]string
		for _, e := range f.alertEntries() {
			if e["alert_type"] == alert.TypePolicyExpiring {
				out = append(out, e)
			}
		}
		return out
	}
	step := func(d time.Duration, want alert.Outcome) *refresh.Report {
		t.Helper()
		f.clock.Advance(d)
		rep, _ := f.refresher(bad).Run(ctx)
		if rep.Expiry.Outcome != want {
			t.Fatalf("at +%s: expiry alarm %q, want %q", f.clock.Now().Sub(t0), rep.Expiry.Outcome, want)
		}
		return rep
	}
	step(30*time.Minute, alert.Clear) // 90 min left
	step(30*time.Minute, alert.Clear) // 60 min left
	step(16*time.Minute, alert.Fired) // 44 min left: under the 45 min threshold
	if e := expiring(); len(e) != 1 || e[0]["status"] != "firing" || e[0]["remaining_sec"] != "2640" ||
		e[0]["severity"] != "critical" || e[0]["window"] != "45min" || e[0]["policy_seq"] != "1" {
		t.Fatalf("POLICY_EXPIRING alerts %v", e)
	}
	step(14*time.Minute, alert.Held) // 30 min left
	step(31*time.Minute, alert.Held) // stale: still the same incident
	if e := expiring(); len(e) != 1 {
		t.Fatalf("%d POLICY_EXPIRING alerts, want 1 (deduplicated)", len(e))
	}
	step(30*time.Minute, alert.Renotified) // over an hour since the first notification
	if e := expiring(); len(e) != 2 || e[1]["reason"] != "POLICY_STALE" {
		t.Fatalf("re-notification of a stale policy: %v", e)
	}
	f.clock.Advance(time.Minute)
	rep := f.run(f.cfg)
	if rep.Expiry.Outcome != alert.Resolved || rep.Alert.Outcome != alert.Resolved {
		t.Fatalf("good run: expiry %s, refresh alert %s, want both resolved", rep.Expiry.Outcome, rep.Alert.Outcome)
	}
	if e := expiring(); len(e) != 3 || e[2]["status"] != "resolved" || e[2]["remaining_sec"] != "7200" {
		t.Fatalf("POLICY_EXPIRING alerts %v", e)
	}
}

// TestExpiryAlarmDisabled: NoExpiryAlarm publishes no POLICY_EXPIRING.
func TestExpiryAlarmDisabled(t *testing.T) {
	f := newFixture(t)
	f.run(f.cfg)
	cfg := f.cfg
	cfg.NoExpiryAlarm = true
	cfg.Source = f.generator("exit 1", time.Minute)
	f.clock.Advance(100 * time.Minute)
	rep, _ := f.refresher(cfg).Run(context.Background())
	if rep.Expiry.Outcome != "" {
		t.Fatalf("expiry alarm ran while disabled: %+v", rep.Expiry)
	}
}

// TestRedisDown: with Redis gone the run fails with POLICY_UNAVAILABLE, and
// the audit entry and alert it could not write are errors too, not silence.
func TestRedisDown(t *testing.T) {
	f := newFixture(t)
	srv := redistest.Start(t, redistest.Options{})
	client := srv.Client()
	defer client.Close()
	cfg := f.cfg
	var err error
	if cfg.Store, err = policystore.New(client, policystore.Options{Keys: f.env.Keys, Keyring: policy.NewTrustedKeys(f.key.Public()), Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if cfg.Alerts, err = alert.New(client, alert.Options{Keys: f.env.Keys, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	f.run(cfg)
	srv.Stop()
	rep, err := f.refresher(cfg).Run(context.Background())
	if reason.CodeOf(err) != reason.PolicyUnavailable || rep.Code != reason.PolicyUnavailable {
		t.Fatalf("Redis down: %v", err)
	}
	for _, want := range []string{"audit entry: ", "alert: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !strings.Contains(f.log.String(), "could not raise or clear an alert") {
		t.Errorf("the alert failure was not logged:\n%s", f.log.String())
	}
}

// TestInterrupted: a run cancelled while the generator runs publishes and
// records nothing.
func TestInterrupted(t *testing.T) {
	f := newFixture(t)
	f.run(f.cfg)
	before := f.snapshot()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := f.cfg
	inner := f.generator("sleep 30", time.Minute)
	cfg.Source = refresh.SourceFunc(func(ctx context.Context) (*policy.Content, error) {
		cancel()
		return inner.Content(ctx)
	})
	if _, err := f.refresher(cfg).Run(ctx); err == nil || reason.CodeOf(err) != "" {
		t.Fatalf("interrupted run: %v, want an uncoded error", err)
	}
	if f.snapshot() != before || len(f.audit()) != 1 || len(f.alertEntries()) != 0 {
		t.Fatal("an interrupted run wrote something")
	}
}

func TestGeneratorOutputLimits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g := f.generator("head -c 2000000 /dev/zero", time.Minute)
	if _, err := g.Content(ctx); reason.CodeOf(err) != reason.PolicyParseError || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversized output: %v", err)
	}
	g = f.generator("cat "+f.template+"; echo progress 1/1 >&2", time.Minute)
	c, err := g.Content(ctx)
	if err != nil || c.PolicyVersion != "1.0.0-ai-v1" {
		t.Fatalf("good generator: %v", err)
	}
	if !strings.Contains(f.log.String(), `[POLICY-REFRESH] generator stderr" line="progress 1/1"`) {
		t.Fatalf("stderr not logged:\n%s", f.log.String())
	}
	if _, err := (refresh.Generator{Command: "  "}).Content(ctx); reason.CodeOf(err) != reason.RefreshConfigInvalid {
		t.Fatalf("empty command: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFixture(t)
	for name, mod := range map[string]func(*refresh.Config){
		"no store":           func(c *refresh.Config) { c.Store = nil },
		"no source":          func(c *refresh.Config) { c.Source = nil },
		"negative validity":  func(c *refresh.Config) { c.Validity = -time.Hour },
		"cap above 125":      func(c *refresh.Config) { c.MaxLeverage = 126 },
		"negative cap":       func(c *refresh.Config) { c.MaxLeverage = -1 },
		"negative threshold": func(c *refresh.Config) { c.ExpiryAlarm = -time.Minute },
	} {
		cfg := f.cfg
		mod(&cfg)
		if _, err := refresh.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkRefresh measures one good run: read and verify the live policy,
// read the template, stamp, validate, sign, re-verify, publish with the Lua
// script, and the two alert checks, against a real Redis on a unix socket.
func BenchmarkRefresh(b *testing.B) {
	f := newFixture(b)
	r := f.refresher(f.cfg)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
