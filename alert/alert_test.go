package alert_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/keys"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var t0 = time.Unix(1_780_000_000, 0)

func newPublisher(t *testing.T, rdb redis.Scripter, ks keys.Space, c *testkit.Clock) *alert.Publisher {
	t.Helper()
	p, err := alert.New(rdb, alert.Options{Keys: ks, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func violation(count int64) alert.Alert {
	return alert.Alert{
		Type: alert.TypeExitOwnerViolation, Severity: alert.SeverityCritical, Count: count, Window: 5 * time.Minute,
		Details: map[string]string{"sources": "ai_engine", "symbols": "BTCUSDT", "first_plan_id": "p1", "last_plan_id": "p9"},
	}
}

// expect returns a check of a Fire or Resolve result, used as
// expect(t, alert.Fired)(p.Fire(...)).
func expect(t *testing.T, want alert.Outcome) func(alert.Result, error) alert.Result {
	return func(r alert.Result, err error) alert.Result {
		t.Helper()
		return checkOutcome(t, r, err, want)
	}
}

func checkOutcome(t *testing.T, r alert.Result, err error, want alert.Outcome) alert.Result {
	t.Helper()
	if err != nil {
		t.Fatalf("want %s, got error %v", want, err)
	}
	if r.Outcome != want {
		t.Fatalf("outcome %s, want %s (%+v)", r.Outcome, want, r)
	}
	if r.Published() != (want == alert.Fired || want == alert.Renotified || want == alert.Resolved) {
		t.Fatalf("%s with entry id %q", r.Outcome, r.EntryID)
	}
	return r
}

// TestLifecycle walks one identity through two incidents: fire, hold inside
// the repeat interval, re-notify after it, resolve once, stay clear, fire a
// new incident. Every published entry is checked field by field.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	env := redistest.New(t)
	c := testkit.NewClock(t0)
	p := newPublisher(t, env.Client, env.Keys, c)
	entries := func() []map[string]string { return redistest.StreamEntries(t, env.Client, env.Keys.Alerts()) }
	hour := time.Hour

	// Nothing firing: Resolve publishes nothing.
	expect(t, alert.Clear)(p.Resolve(ctx, violation(0)))

	first := expect(t, alert.Fired)(p.Fire(ctx, violation(3), hour))
	fp := alert.Fingerprint(alert.TypeExitOwnerViolation, nil)
	if first.AlertID != fp+"-1" {
		t.Fatalf("alert_id %q, want %s-1", first.AlertID, fp)
	}
	want := map[string]string{
		"alert_type": "EXIT_OWNER_VIOLATION", "status": "firing", "severity": "critical",
		"alert_id": first.AlertID, "deny_count": "3", "window": "5min",
		"timestamp": strconv.FormatInt(t0.Unix(), 10), "started_at": strconv.FormatInt(t0.Unix(), 10),
		"occurrences": "1", "sources": "ai_engine", "symbols": "BTCUSDT", "first_plan_id": "p1", "last_plan_id": "p9",
	}
	checkEntry(t, entries(), 1, want)

	// Inside the repeat interval: held, nothing new, and when it is due.
	c.Advance(5 * time.Minute)
	r := expect(t, alert.Held)(p.Fire(ctx, violation(4), hour))
	if r.AlertID != first.AlertID || !r.Next.Equal(t0.Add(hour)) {
		t.Fatalf("held %+v, want alert_id %s next %s", r, first.AlertID, t0.Add(hour))
	}
	c.Advance(54*time.Minute + 59*time.Second)
	expect(t, alert.Held)(p.Fire(ctx, violation(4), hour))
	if n := len(entries()); n != 1 {
		t.Fatalf("%d entries after held fires, want 1", n)
	}

	// At the repeat interval: the same incident is notified again.
	c.Advance(time.Second)
	r = expect(t, alert.Renotified)(p.Fire(ctx, violation(7), hour))
	if r.AlertID != first.AlertID {
		t.Fatalf("re-notification alert_id %q, want %q", r.AlertID, first.AlertID)
	}
	want["deny_count"], want["occurrences"] = "7", "4"
	want["timestamp"] = strconv.FormatInt(t0.Add(hour).Unix(), 10)
	checkEntry(t, entries(), 2, want)

	// The repeat interval restarts from the re-notification.
	c.Advance(30 * time.Minute)
	expect(t, alert.Held)(p.Fire(ctx, violation(1), hour))

	// Cleared: one resolved entry with the same alert_id, then nothing.
	c.Advance(5 * time.Minute)
	clean := violation(0)
	r = expect(t, alert.Resolved)(p.Resolve(ctx, clean))
	if r.AlertID != first.AlertID {
		t.Fatalf("resolved alert_id %q, want %q", r.AlertID, first.AlertID)
	}
	want["status"], want["deny_count"], want["occurrences"] = "resolved", "0", "5"
	want["timestamp"] = strconv.FormatInt(c.Now().Unix(), 10)
	checkEntry(t, entries(), 3, want)
	expect(t, alert.Clear)(p.Resolve(ctx, clean))
	if n := len(entries()); n != 3 {
		t.Fatalf("%d entries after a second resolve, want 3", n)
	}

	// A new incident gets a new alert_id, and a full repeat interval of its own.
	c.Advance(time.Minute)
	second := expect(t, alert.Fired)(p.Fire(ctx, violation(2), hour))
	if second.AlertID != fp+"-2" {
		t.Fatalf("second incident alert_id %q, want %s-2", second.AlertID, fp)
	}
	expect(t, alert.Held)(p.Fire(ctx, violation(2), hour))
	if e := entries(); len(e) != 4 || e[3]["status"] != "firing" || e[3]["occurrences"] != "1" {
		t.Fatalf("entries after the second incident: %v", e)
	}
}

func checkEntry(t *testing.T, entries []map[string]string, n int, want map[string]string) {
	t.Helper()
	if len(entries) != n {
		t.Fatalf("%d entries, want %d: %v", len(entries), n, entries)
	}
	got := entries[n-1]
	if len(got) != len(want) {
		t.Errorf("entry %d has %d fields, want %d: %v", n, len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("entry %d: %s = %q, want %q", n, k, got[k], v)
		}
	}
}

// TestCountOccurrences: an alert raised by a condition reports how many runs
// have found it as deny_count.
func TestCountOccurrences(t *testing.T) {
	ctx := context.Background()
	env := redistest.New(t)
	c := testkit.NewClock(t0)
	p := newPublisher(t, env.Client, env.Keys, c)
	a := alert.Alert{Type: alert.TypePolicyRefreshFailed, Severity: alert.SeverityWarning,
		Count: alert.CountOccurrences, Window: 30 * time.Minute, Details: map[string]string{"reason": "POLICY_INVALID"}}
	for i := 0; i < 3; i++ {
		if _, err := p.Fire(ctx, a, time.Hour); err != nil {
			t.Fatal(err)
		}
		c.Advance(30 * time.Minute)
	}
	e := redistest.StreamEntries(t, env.Client, env.Keys.Alerts())
	if len(e) != 2 || e[0]["deny_count"] != "1" || e[1]["deny_count"] != "3" || e[1]["window"] != "30min" {
		t.Fatalf("entries %v: want deny_count 1 then 3 (fired, held, re-notified)", e)
	}
}

// TestIdentities: labels and types separate incidents; details do not.
func TestIdentities(t *testing.T) {
	ctx := context.Background()
	env := redistest.New(t)
	p := newPublisher(t, env.Client, env.Keys, testkit.NewClock(t0))
	a := violation(1)
	b := violation(1)
	b.Labels = map[string]string{"replica": "b"}
	c := violation(1)
	c.Details = map[string]string{"symbols": "ETHUSDT"}
	d := alert.Alert{Type: alert.TypePolicyExpiring, Severity: alert.SeverityCritical, Count: 0, Window: 45 * time.Minute}
	ra := expect(t, alert.Fired)(p.Fire(ctx, a, time.Hour))
	rb := expect(t, alert.Fired)(p.Fire(ctx, b, time.Hour))
	expect(t, alert.Held)(p.Fire(ctx, c, time.Hour))
	rd := expect(t, alert.Fired)(p.Fire(ctx, d, time.Hour))
	if ra.AlertID == rb.AlertID || ra.AlertID == rd.AlertID {
		t.Fatalf("identities share an alert_id: %s %s %s", ra.AlertID, rb.AlertID, rd.AlertID)
	}
	// The fingerprint is stable across releases: routing rules may key on it.
	if got := alert.Fingerprint("POLICY_EXPIRING", map[string]string{"b": "2", "a": "1"}); got != alert.Fingerprint("POLICY_EXPIRING", map[string]string{"a": "1", "b": "2"}) || len(got) != 16 {
		t.Fatalf("fingerprint %q depends on map order or has the wrong length", got)
	}
	if got, want := alert.Fingerprint("POLICY_EXPIRING", nil), "0dbe9bed00ef273f"; got != want {
		t.Errorf("Fingerprint(POLICY_EXPIRING) = %s, want %s: a changed fingerprint splits running incidents", got, want)
	}
}

// TestConcurrentFire: many runs fire the same incident at once, each with
// its own connection; exactly one publishes.
func TestConcurrentFire(t *testing.T) {
	ctx := context.Background()
	env := redistest.New(t)
	c := testkit.NewClock(t0)
	const n = 16
	results := make([]alert.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		client := env.Server.Client()
		defer client.Close()
		p := newPublisher(t, client, env.Keys, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = p.Fire(ctx, violation(1), time.Hour)
		}()
	}
	close(start)
	wg.Wait()
	fired := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		switch results[i].Outcome {
		case alert.Fired:
			fired++
		case alert.Held:
		default:
			t.Fatalf("run %d: outcome %s", i, results[i].Outcome)
		}
	}
	if e := redistest.StreamEntries(t, env.Client, env.Keys.Alerts()); fired != 1 || len(e) != 1 || e[0]["occurrences"] != "1" {
		t.Fatalf("%d runs fired, %d entries, want 1 and 1", fired, len(e))
	}
	st, err := env.Client.HGet(ctx, env.Keys.AlertIncident(alert.Fingerprint(alert.TypeExitOwnerViolation, nil)), "occurrences").Result()
	if err != nil || st != strconv.Itoa(n) {
		t.Fatalf("occurrences in the dedupe state = %q (%v), want %d", st, err, n)
	}
}

// TestRedisDownIsAnError: with Redis stopped, Fire and Resolve return
// errors, never Held or Clear; after a restart the dedupe state decides again.
func TestRedisDownIsAnError(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	client := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	ks := keys.MustNew("down")
	p := newPublisher(t, client, ks, testkit.NewClock(t0))
	expect(t, alert.Fired)(p.Fire(ctx, violation(1), time.Hour))
	srv.Stop()
	for name, call := range map[string]func() (alert.Result, error){
		"fire":    func() (alert.Result, error) { return p.Fire(ctx, violation(1), time.Hour) },
		"resolve": func() (alert.Result, error) { return p.Resolve(ctx, violation(0)) },
	} {
		r, err := call()
		if err == nil {
			t.Fatalf("%s with Redis down: no error, outcome %s", name, r.Outcome)
		}
		if r.Outcome != "" || r.Published() {
			t.Fatalf("%s with Redis down returned an outcome %+v beside the error", name, r)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The restarted server is empty (no persistence): a new incident.
	expect(t, alert.Fired)(p.Fire(ctx, violation(1), time.Hour))
}

// TestBrokenKeysAndBadInput: a wrong-typed stream or state key is an error
// and writes nothing; invalid alerts are refused before Redis is touched.
func TestBrokenKeysAndBadInput(t *testing.T) {
	ctx := context.Background()
	env := redistest.New(t)
	p := newPublisher(t, env.Client, env.Keys, testkit.NewClock(t0))
	env.Client.Set(ctx, env.Keys.Alerts(), "not a stream", 0)
	if _, err := p.Fire(ctx, violation(1), time.Hour); err == nil {
		t.Fatal("fire onto a string key: no error")
	}
	state := env.Keys.AlertIncident(alert.Fingerprint(alert.TypeExitOwnerViolation, nil))
	if n, _ := env.Client.Exists(ctx, state).Result(); n != 0 {
		t.Fatal("a failed fire wrote the dedupe state")
	}
	env.Client.Del(ctx, env.Keys.Alerts())
	env.Client.Set(ctx, state, "not a hash", 0)
	if _, err := p.Fire(ctx, violation(1), time.Hour); err == nil {
		t.Fatal("fire with a string dedupe state: no error")
	}
	if n, _ := env.Client.Exists(ctx, env.Keys.Alerts()).Result(); n != 0 {
		t.Fatal("a failed fire published")
	}

	bad := []alert.Alert{
		{Type: "exit owner", Severity: alert.SeverityCritical, Window: time.Minute},
		{Type: alert.TypePolicyExpiring, Severity: "page-me", Window: time.Minute},
		{Type: alert.TypePolicyExpiring, Severity: alert.SeverityCritical, Window: 0},
		{Type: alert.TypePolicyExpiring, Severity: alert.SeverityCritical, Window: time.Minute, Count: -5},
		{Type: alert.TypePolicyExpiring, Severity: alert.SeverityCritical, Window: time.Minute, Details: map[string]string{"status": "resolved"}},
	}
	for i, a := range bad {
		if _, err := p.Fire(ctx, a, time.Hour); err == nil {
			t.Errorf("bad alert %d accepted: %+v", i, a)
		}
	}
	if _, err := p.Fire(ctx, violation(1), 0); err == nil {
		t.Error("a zero repeat interval was accepted")
	}
}

func TestFormatWindow(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5min", 30 * time.Minute: "30min", 2 * time.Hour: "120min", 90 * time.Second: "90s",
	} {
		if got := alert.FormatWindow(d); got != want {
			t.Errorf("FormatWindow(%s) = %q, want %q", d, got, want)
		}
	}
}
