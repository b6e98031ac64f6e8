package watch_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/watch"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// t0 is the injected clock's start; its milliseconds make the window's
// first id easy to read: the window of 5 minutes starts at ms0 - 300000.
var t0 = time.UnixMilli(1_780_000_000_123)

const ms0 = 1_780_000_000_123

// fixture is a test's Redis namespace, clock, watcher and log.
type fixture struct {
	t     *testing.T
	env   *redistest.Env
	clock *testkit.Clock
	log   *testkit.Buffer
	w     *watch.Watcher
}

func newFixture(t *testing.T, edit func(*watch.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, env: redistest.New(t), clock: testkit.NewClock(t0), log: &testkit.Buffer{}}
	f.w = f.watcher(f.env.Client, edit)
	return f
}

func (f *fixture) watcher(rdb *redis.Client, edit func(*watch.Config)) *watch.Watcher {
	f.t.Helper()
	alerts, err := alert.New(rdb, alert.Options{Keys: f.env.Keys, Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	cfg := watch.Config{
		Redis: rdb, Alerts: alerts, Keys: f.env.Keys, Now: f.clock.Now,
		Log: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := watch.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// newOwnFixture is newFixture on a redis-server of the test's own, for
// outage tests that stop it. Its client does not retry.
func newOwnFixture(t *testing.T) *fixture {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	f := &fixture{t: t, env: &redistest.Env{Server: srv, Client: rdb, Keys: keys.MustNew("own")}, clock: testkit.NewClock(t0), log: &testkit.Buffer{}}
	f.w = f.watcher(rdb, nil)
	return f
}

// result is an apply-layer result as applylayer writes it (the fields the
// watch reads, and a few it must ignore).
type result struct {
	id                                     string // explicit stream id, "" for "*"
	planID, source, symbol, reason, canary string
	consumer                               string
}

func denial(id, planID, source, symbol string) result {
	return result{id: id, planID: planID, source: source, symbol: symbol, reason: "DENY_NOT_EXIT_OWNER", canary: "false", consumer: "c1"}
}

func (f *fixture) add(rs ...result) {
	f.t.Helper()
	for _, r := range rs {
		decision, executed := "DENIED", "false"
		if r.reason == "" {
			decision, executed = "EXECUTED", "true"
		}
		id := r.id
		if id == "" {
			id = "*"
		}
		err := f.env.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: f.env.Keys.ApplyResult(), ID: id, Values: []any{
			"plan_id", r.planID, "source", r.source, "symbol", r.symbol, "decision", decision, "executed", executed,
			"reason", r.reason, "error", r.reason, "canary", r.canary, "timestamp", "1780000000",
			"plan_entry_id", "1-1", "action", "FULL_CLOSE_PROPOSED", "side", "SELL", "detail", "", "consumer", r.consumer,
		}}).Err()
		if err != nil {
			f.t.Fatalf("XADD %s: %v", id, err)
		}
	}
}

// msID is the stream id at ms0 + offset milliseconds.
func msID(offset int64, seq int) string { return fmt.Sprintf("%d-%d", ms0+offset, seq) }

func (f *fixture) alerts() []map[string]string {
	return redistest.StreamEntries(f.t, f.env.Client, f.env.Keys.Alerts())
}

func (f *fixture) heartbeat(job string) map[string]string {
	f.t.Helper()
	h, err := f.env.Client.HGetAll(context.Background(), f.env.Keys.Heartbeat(job)).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) run() *watch.Report {
	f.t.Helper()
	rep, err := f.w.Run(context.Background())
	if err != nil {
		f.t.Fatalf("run: %v", err)
	}
	return rep
}

func wantFields(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d fields, want %d:\n got  %v\n want %v", what, len(got), len(want), got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %s = %q, want %q", what, k, g, v)
		}
	}
}

var fingerprint = alert.Fingerprint(alert.TypeExitOwnerViolation, nil)

// TestAlertFields: denials written by two replicas are counted together;
// executed results, other denials and canary denials are not; the alert
// carries exactly the SPEC fields and the heartbeat says what the run did.
func TestAlertFields(t *testing.T) {
	f := newFixture(t, nil)
	r2 := denial(msID(-60_000, 0), "p2", "intent_bridge", "ETHUSDT")
	r2.consumer = "c2"
	f.add(
		denial(msID(-120_000, 0), "p1", "ai_engine", "BTCUSDT"),
		result{id: msID(-90_000, 0), planID: "e1", source: "intent_bridge", symbol: "BTCUSDT", canary: "false"},
		result{id: msID(-80_000, 0), planID: "x1", source: "ai_engine", symbol: "BTCUSDT", reason: "LEVERAGE_EXCEEDS_POLICY", canary: "false"},
		r2,
		result{id: msID(-30_000, 0), planID: "c1", source: "quantum_proof", symbol: "BTCUSDT", reason: "DENY_NOT_EXIT_OWNER", canary: "true"},
		denial(msID(-1_000, 0), "p3", "ai_engine", "BTCUSDT"),
	)
	rep := f.run()
	if rep.Denials != 3 || rep.CanaryDenials != 1 || rep.Scanned != 6 || rep.Alert.Outcome != alert.Fired {
		t.Fatalf("report %+v: want 3 denials, 1 canary, 6 scanned, fired", rep)
	}
	al := f.alerts()
	if len(al) != 1 {
		t.Fatalf("alerts %v: want one", al)
	}
	ts := strconv.FormatInt(t0.Unix(), 10)
	wantFields(t, "firing alert", al[0], map[string]string{
		"alert_type": "EXIT_OWNER_VIOLATION", "status": "firing", "severity": "critical",
		"alert_id": fingerprint + "-1", "deny_count": "3", "window": "5min", "timestamp": ts,
		"started_at": ts, "occurrences": "1",
		"sources": "ai_engine,intent_bridge", "symbols": "BTCUSDT,ETHUSDT", "first_plan_id": "p1", "last_plan_id": "p3",
	})
	wantFields(t, "heartbeat", f.heartbeat(watch.JobTimer), map[string]string{
		"last_run_at": ts, "last_ok_at": ts, "outcome": "denials", "error": "", "deny_count": "3", "canary_deny_count": "1",
		"window": "5min", "interval_sec": "300", "alert": "fired", "alert_id": fingerprint + "-1",
	})
	for _, line := range strings.Split(strings.TrimSpace(f.log.String()), "\n") {
		if !strings.Contains(line, watch.Tag) {
			t.Errorf("log line without %s: %s", watch.Tag, line)
		}
	}
	if !strings.Contains(f.log.String(), "deny_count=3") {
		t.Errorf("log lacks the count:\n%s", f.log.String())
	}
}

// TestWindowBoundaries: the window is a range of stream ids. An entry
// exactly window old counts, one a millisecond older does not; an entry
// stamped after now (Redis's clock ahead) counts. Moving the clock by one
// millisecond moves the boundary.
func TestWindowBoundaries(t *testing.T) {
	f := newFixture(t, nil)
	const window = 300_000
	f.add(
		denial(msID(-window-1, 5), "too-old", "ai_engine", "BTCUSDT"),
		denial(msID(-window, 0), "oldest-in", "ai_engine", "BTCUSDT"),
		denial(msID(0, 0), "now", "ai_engine", "ETHUSDT"),
		denial(msID(2_000, 0), "ahead", "ai_engine", "SOLUSDT"),
	)
	rep := f.run()
	if rep.Denials != 3 || rep.FirstPlanID != "oldest-in" || rep.LastPlanID != "ahead" || rep.Since != msID(-window, 0) {
		t.Fatalf("report %+v: want 3 denials from oldest-in to ahead, since %s", rep, msID(-window, 0))
	}
	f.clock.Advance(time.Millisecond)
	rep = f.run()
	if rep.Denials != 2 || rep.FirstPlanID != "now" {
		t.Fatalf("one ms later: report %+v, want 2 denials from now", rep)
	}
	// A longer window reaches the older entry.
	f.w = f.watcher(f.env.Client, func(c *watch.Config) { c.Window = 10 * time.Minute })
	if rep := f.run(); rep.Denials != 4 || rep.FirstPlanID != "too-old" {
		t.Fatalf("10min window: report %+v, want 4 denials", rep)
	}
}

// TestPaging: the window is read in pages, each starting after the last id
// of the previous one: nothing is counted twice or skipped.
func TestPaging(t *testing.T) {
	f := newFixture(t, func(c *watch.Config) { c.PageSize = 3 })
	var want int64
	for i := range 10 {
		if i%3 == 0 {
			f.add(denial(msID(int64(-1000+i), 0), fmt.Sprintf("p%d", i), "ai_engine", "BTCUSDT"))
			want++
		} else {
			f.add(result{id: msID(int64(-1000+i), 0), planID: fmt.Sprintf("e%d", i), source: "ai_engine", symbol: "BTCUSDT", canary: "false"})
		}
	}
	f.add(denial(msID(-1000+9, 1), "p9b", "ai_engine", "BTCUSDT")) // same millisecond, next seq
	want++
	if rep := f.run(); rep.Scanned != 11 || rep.Denials != want || rep.FirstPlanID != "p0" || rep.LastPlanID != "p9b" {
		t.Fatalf("report %+v: want 11 scanned, %d denials, p0..p9b", rep, want)
	}
}

// TestRepeatResolveAndNewIncident: a run inside the repeat interval
// publishes nothing; after it, the same incident is re-notified with the
// current count; a clean window resolves it once; a later denial starts a
// new incident.
func TestRepeatResolveAndNewIncident(t *testing.T) {
	f := newFixture(t, nil)
	f.add(denial(msID(-1000, 0), "p1", "ai_engine", "BTCUSDT"))
	if rep := f.run(); rep.Alert.Outcome != alert.Fired {
		t.Fatalf("first run: %+v", rep.Alert)
	}
	// Five minutes later, a new denial keeps the incident firing: held.
	f.clock.Advance(5 * time.Minute)
	f.add(denial(msID(5*60_000-500, 0), "p2", "ai_engine", "ETHUSDT"))
	rep := f.run()
	if rep.Denials != 1 || rep.Alert.Outcome != alert.Held || rep.Alert.Published() || !rep.Alert.Next.Equal(t0.Truncate(time.Second).Add(time.Hour)) {
		t.Fatalf("rerun inside the repeat interval: %+v, want held until %s", rep.Alert, t0.Add(time.Hour))
	}
	if n := len(f.alerts()); n != 1 {
		t.Fatalf("%d alerts after a held run, want 1", n)
	}
	if h := f.heartbeat(watch.JobTimer); h["outcome"] != "denials" || h["alert"] != "held" {
		t.Fatalf("heartbeat after a held run: %v", h)
	}
	// An hour after the first notification, denials still in the window: re-notified.
	f.clock.Set(t0.Add(time.Hour))
	f.add(denial(msID(3_600_000-2000, 0), "p3", "rogue", "BTCUSDT"), denial(msID(3_600_000-1000, 0), "p4", "rogue", "BTCUSDT"))
	if rep := f.run(); rep.Alert.Outcome != alert.Renotified || rep.Denials != 2 {
		t.Fatalf("after the repeat interval: %+v", rep)
	}
	al := f.alerts()
	if len(al) != 2 || al[1]["alert_id"] != fingerprint+"-1" || al[1]["deny_count"] != "2" || al[1]["sources"] != "rogue" || al[1]["first_plan_id"] != "p3" {
		t.Fatalf("re-notification: %v", al)
	}
	// Six minutes later nothing is in the window: one resolved alert.
	f.clock.Advance(6 * time.Minute)
	if rep := f.run(); rep.Alert.Outcome != alert.Resolved || rep.Denials != 0 {
		t.Fatalf("clean window: %+v", rep)
	}
	al = f.alerts()
	ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
	wantFields(t, "resolved alert", al[2], map[string]string{
		"alert_type": "EXIT_OWNER_VIOLATION", "status": "resolved", "severity": "critical",
		"alert_id": fingerprint + "-1", "deny_count": "0", "window": "5min", "timestamp": ts,
		"started_at": strconv.FormatInt(t0.Unix(), 10), "occurrences": "3",
	})
	if rep := f.run(); rep.Alert.Outcome != alert.Clear || len(f.alerts()) != 3 {
		t.Fatalf("second clean run: %+v, %d alerts", rep.Alert, len(f.alerts()))
	}
	if h := f.heartbeat(watch.JobTimer); h["outcome"] != "clean" || h["alert"] != "clear" || h["deny_count"] != "0" {
		t.Fatalf("heartbeat after a clean run: %v", h)
	}
	// A new denial: a new incident.
	f.clock.Advance(time.Minute)
	f.add(denial(msID(3_600_000+7*60_000-10, 0), "p5", "ai_engine", "BTCUSDT"))
	if rep := f.run(); rep.Alert.Outcome != alert.Fired || rep.Alert.AlertID != fingerprint+"-2" {
		t.Fatalf("new incident: %+v", rep.Alert)
	}
}

// TestCanariesNeverAlert: canary denials are counted apart and never fire;
// only the exact value canary=true is believed.
func TestCanariesNeverAlert(t *testing.T) {
	f := newFixture(t, nil)
	canary := denial(msID(-2000, 0), "c1", "quantum_proof", "BTCUSDT")
	canary.canary = "true"
	canary2 := canary
	canary2.id, canary2.planID = msID(-1000, 0), "c2"
	f.add(canary, canary2)
	rep := f.run()
	if rep.Denials != 0 || rep.CanaryDenials != 2 || rep.Alert.Outcome != alert.Clear {
		t.Fatalf("report %+v: want 0 denials, 2 canary, clear", rep)
	}
	if al := f.alerts(); len(al) != 0 {
		t.Fatalf("canary denials alerted: %v", al)
	}
	if h := f.heartbeat(watch.JobTimer); h["outcome"] != "clean" || h["canary_deny_count"] != "2" {
		t.Fatalf("heartbeat %v", h)
	}
	odd := canary
	odd.id, odd.planID, odd.canary = msID(-500, 0), "c3", "True"
	f.add(odd)
	if rep := f.run(); rep.Denials != 1 || rep.FirstPlanID != "c3" || rep.Alert.Outcome != alert.Fired {
		t.Fatalf("canary=True: %+v, want a real denial", rep)
	}
}

// TestMissingStream: no result stream is clean, with a warning that names
// the stream (a wrong prefix looks like this).
func TestMissingStream(t *testing.T) {
	f := newFixture(t, nil)
	rep := f.run()
	if !rep.StreamMissing || rep.Denials != 0 || rep.Outcome() != watch.OutcomeClean {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(f.log.String(), "no result stream under this prefix") || !strings.Contains(f.log.String(), f.env.Keys.ApplyResult()) {
		t.Fatalf("log:\n%s", f.log.String())
	}
	f.add(result{id: msID(-1, 0), planID: "e1", source: "ai_engine", symbol: "BTCUSDT", canary: "false"})
	if rep := f.run(); rep.StreamMissing || rep.Scanned != 1 {
		t.Fatalf("with a result: %+v", rep)
	}
}

// TestFailuresAreErrors: a result stream of the wrong type, an alert that
// cannot be published and a Redis that is down are errors, never clean or
// held; the heartbeat records them when Redis allows.
func TestFailuresAreErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("result stream of the wrong type", func(t *testing.T) {
		f := newFixture(t, nil)
		f.env.Client.Set(ctx, f.env.Keys.ApplyResult(), "not a stream", 0)
		rep, err := f.w.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || rep.Alert.Outcome != "" {
			t.Fatalf("run: %v %+v", err, rep)
		}
		h := f.heartbeat(watch.JobTimer)
		if h["outcome"] != "error" || !strings.Contains(h["error"], "could not read") || h["deny_count"] != "" || h["last_ok_at"] != "" {
			t.Fatalf("heartbeat %v", h)
		}
	})
	t.Run("alert not publishable", func(t *testing.T) {
		f := newFixture(t, nil)
		f.add(denial(msID(-1000, 0), "p1", "ai_engine", "BTCUSDT"))
		f.env.Client.Set(ctx, f.env.Keys.Alerts(), "not a stream", 0)
		rep, err := f.w.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "1 DENY_NOT_EXIT_OWNER found, but the alert could not be raised") {
			t.Fatalf("run: %v", err)
		}
		if rep.Denials != 1 || rep.Alert.Outcome != "" {
			t.Fatalf("report %+v", rep)
		}
		if h := f.heartbeat(watch.JobTimer); h["outcome"] != "error" || h["deny_count"] != "1" || h["alert"] != "" {
			t.Fatalf("heartbeat %v", h)
		}
		if !strings.Contains(f.log.String(), "could not raise or clear an alert") || strings.Contains(f.log.String(), "held") {
			t.Fatalf("log:\n%s", f.log.String())
		}
	})
	t.Run("redis down", func(t *testing.T) {
		f := newOwnFixture(t)
		srv := f.env.Server
		f.add(denial(msID(-1000, 0), "p1", "ai_engine", "BTCUSDT"))
		f.run()
		srv.Stop()
		rep, err := f.w.Run(ctx)
		if err == nil || rep.Alert.Outcome != "" || rep.Alert.Published() {
			t.Fatalf("run with Redis down: %v %+v", err, rep.Alert)
		}
		if !strings.Contains(f.log.String(), "check failed") {
			t.Fatalf("log:\n%s", f.log.String())
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	env := redistest.New(t)
	alerts, _ := alert.New(env.Client, alert.Options{Keys: env.Keys, Now: time.Now})
	good := watch.Config{Redis: env.Client, Alerts: alerts, Keys: env.Keys, Now: time.Now}
	for name, edit := range map[string]func(*watch.Config){
		"no redis":        func(c *watch.Config) { c.Redis = nil },
		"no alerts":       func(c *watch.Config) { c.Alerts = nil },
		"no clock":        func(c *watch.Config) { c.Now = nil },
		"no prefix":       func(c *watch.Config) { c.Keys = keys.Space{} },
		"negative window": func(c *watch.Config) { c.Window = -time.Minute },
		"tiny window":     func(c *watch.Config) { c.Window = time.Millisecond },
		"tiny repeat":     func(c *watch.Config) { c.RepeatInterval = time.Millisecond },
	} {
		cfg := good
		edit(&cfg)
		if _, err := watch.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := watch.New(good); err != nil {
		t.Fatal(err)
	}
}

// TestCanaryOfAnotherSourceIsARealDenial: a hostile producer that marks its
// exit canary=true cannot hide the denial: only the proof source's canaries
// are counted apart.
func TestCanaryOfAnotherSourceIsARealDenial(t *testing.T) {
	f := newFixture(t, nil)
	f.add(
		result{id: msID(-30_000, 0), planID: "c1", source: "quantum_proof", symbol: "BTCUSDT", reason: "DENY_NOT_EXIT_OWNER", canary: "true"},
		result{id: msID(-20_000, 0), planID: "h1", source: "rogue", symbol: "BTCUSDT", reason: "DENY_NOT_EXIT_OWNER", canary: "true"},
	)
	rep := f.run()
	if rep.Denials != 1 || rep.CanaryDenials != 1 || rep.Alert.Outcome != alert.Fired || rep.FirstPlanID != "h1" {
		t.Fatalf("report %+v: want the rogue's canary as 1 real denial (fired), the proof's as 1 canary", rep)
	}
}

// TestForgedResultsAreNotCounted: with the result key, a forged denial
// (written by a user that should not write results, without the apply
// layer's MAC) neither pages against the exit owner nor counts; it raises
// RESULT_FORGED, resolved once the window holds none.
func TestForgedResultsAreNotCounted(t *testing.T) {
	key := []byte("result-key-0123456789abcdef0123456789abcdef")
	f := newFixture(t, func(c *watch.Config) { c.ResultKey = key })
	ctx := context.Background()
	write := func(id string, r plan.Result, k []byte) {
		t.Helper()
		if err := f.env.Client.XAdd(ctx, &redis.XAddArgs{Stream: f.env.Keys.ApplyResult(), ID: id, Values: r.SignedFields(k)}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	deny := plan.Result{PlanID: "p1", Source: "intent_bridge", Symbol: "BTCUSDT", Decision: plan.Denied, Reason: reason.DenyNotExitOwner}
	forged := deny
	forged.PlanID, forged.Source = "f1", "exitbrain_v3_5"
	write(msID(-60_000, 0), forged, nil)                                        // no MAC
	write(msID(-50_000, 0), forged, []byte("not-the-key-0123456789abcdef0123")) // a MAC under another key
	write(msID(-40_000, 0), deny, key)
	rep := f.run()
	if rep.Denials != 1 || rep.Forged != 2 || rep.FirstPlanID != "p1" || rep.FirstForgedID != msID(-60_000, 0) {
		t.Fatalf("report %+v: want the one authenticated denial counted and 2 forged", rep)
	}
	var forgedAlerts int
	for _, a := range f.alerts() {
		if a["alert_type"] == watch.TypeResultForged && a["status"] == "firing" {
			forgedAlerts++
		}
	}
	if forgedAlerts != 1 {
		t.Fatalf("alerts %v: want one RESULT_FORGED firing", f.alerts())
	}
	f.clock.Advance(10 * time.Minute) // the forged entries leave the window
	f.run()
	last := f.alerts()[len(f.alerts())-1]
	if last["alert_type"] != watch.TypeResultForged || last["status"] != "resolved" {
		t.Fatalf("last alert %v: want RESULT_FORGED resolved", last)
	}
}
