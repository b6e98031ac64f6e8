package alertforward_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/alertforward"
	"github.com/quantumtrader/quantum/internal/amtest"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/watch"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// fixture is a namespace on the shared redis-server with a client whose
// blocking reads honour the context, a watch on a hand-moved clock, and
// a place to collect the forwarder's log.
type fixture struct {
	t     *testing.T
	rdb   *redis.Client
	keys  keys.Space
	clock *testkit.Clock
	watch *watch.Watcher
	pub   *alert.Publisher
	log   *testkit.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := redistest.New(t)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: env.Server.Socket(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	// The watch's clock stands 10 minutes in the past, so that a
	// resolution's endsAt has passed when Alertmanager receives it.
	clock := testkit.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	pub, err := alert.New(rdb, alert.Options{Keys: env.Keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w, err := watch.New(watch.Config{Redis: rdb, Alerts: pub, Keys: env.Keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, rdb: rdb, keys: env.Keys, clock: clock, watch: w, pub: pub, log: &testkit.Buffer{}}
}

// denyAndWatch writes an ownership denial as the apply layer writes it,
// stamped at the watch clock's now, and runs the watch, which must fire a
// new incident.
func (f *fixture) denyAndWatch(planID, source string) watch.Report {
	f.t.Helper()
	return f.denyExpect(planID, source, alert.Fired)
}

// denyAndWatch2 is denyAndWatch for a later denial of a firing incident:
// the watch must re-notify it.
func (f *fixture) denyAndWatch2(planID, source string) watch.Report {
	f.t.Helper()
	return f.denyExpect(planID, source, alert.Renotified)
}

func (f *fixture) denyExpect(planID, source string, want alert.Outcome) watch.Report {
	f.t.Helper()
	id := strconv.FormatInt(f.clock.Now().UnixMilli(), 10) + "-1"
	err := f.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: f.keys.ApplyResult(), ID: id, Values: map[string]any{
		"plan_id": planID, "source": source, "symbol": "BTCUSDT", "decision": "DENIED", "executed": "false",
		"reason": "DENY_NOT_EXIT_OWNER", "error": "DENY_NOT_EXIT_OWNER", "canary": "false",
	}}).Err()
	if err != nil {
		f.t.Fatal(err)
	}
	return f.runWatch(want)
}

func (f *fixture) runWatch(want alert.Outcome) watch.Report {
	f.t.Helper()
	rep, err := f.watch.Run(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	if rep.Alert.Outcome != want {
		f.t.Fatalf("watch: alert %s, want %s", rep.Alert.Outcome, want)
	}
	return *rep
}

func (f *fixture) forwarder(edit func(*alertforward.Config)) (*alertforward.Forwarder, *prometheus.Registry) {
	f.t.Helper()
	reg := prometheus.NewRegistry()
	cfg := alertforward.Config{
		Redis: f.rdb, Keys: f.keys, Consumer: "test", Now: time.Now,
		Log:        slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:    alertforward.NewMetrics(reg),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Block: 100 * time.Millisecond,
		ResendInterval: 200 * time.Millisecond,
	}
	edit(&cfg)
	fwd, err := alertforward.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return fwd, reg
}

// run starts fwd.Run and stops it at the end of the test, checking that
// it returns.
func (f *fixture) run(fwd *alertforward.Forwarder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fwd.Run(ctx, nil) }()
	f.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				f.t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			f.t.Errorf("Run did not return after cancel")
		}
	})
}

// waitLog waits until the forwarder's log holds fragment; why says what
// the test waits for.
func (f *fixture) waitLog(fragment, why string) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.log.String(), fragment) {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: no %q logged within 10s:\n%s", why, fragment, f.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) pending() int64 {
	f.t.Helper()
	p, err := f.rdb.XPending(context.Background(), f.keys.Alerts(), alertforward.DefaultGroup).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return p.Count
}

// lagZero waits until the group has delivered and acknowledged every entry.
func (f *fixture) waitDelivered(what string) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		groups, err := f.rdb.XInfoGroups(context.Background(), f.keys.Alerts()).Result()
		last, _ := f.rdb.XRevRangeN(context.Background(), f.keys.Alerts(), "+", "-", 1).Result()
		if err == nil && len(groups) == 1 && len(last) == 1 && groups[0].LastDeliveredID == last[0].ID && groups[0].Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: entries not all delivered and acknowledged within 20s: groups %+v err %v\nlog:\n%s", what, groups, err, f.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func violationID() string { return alert.Fingerprint(alert.TypeExitOwnerViolation, nil) }

// TestAlertmanagerEndToEnd raises EXIT_OWNER_VIOLATION through the real
// watch, forwards it to a real Alertmanager and finds it active there with
// its labels; resolves it and finds it gone from the active alerts; then
// stops Alertmanager, raises two alerts while it is down, and finds both
// in Alertmanager once it is back, the entries having stayed pending
// meanwhile; and a restarted Alertmanager (which forgets its alerts) gets
// the firing one back from the re-send alone.
func TestAlertmanagerEndToEnd(t *testing.T) {
	f := newFixture(t)
	am := amtest.Start(t, 0)
	fwd, reg := f.forwarder(func(c *alertforward.Config) { c.Alertmanagers = []string{am.URL()} })
	f.run(fwd)
	ctx := context.Background()

	rep := f.denyAndWatch("p-1", "rogue_service")
	id1 := rep.Alert.AlertID
	if id1 != violationID()+"-1" {
		t.Fatalf("alert_id %s", id1)
	}
	alerts := am.WaitFor(t, "EXIT_OWNER_VIOLATION active", 20*time.Second, func(as []amtest.Alert) bool {
		a, ok := amtest.Find(as, map[string]string{"alert_id": id1})
		return ok && a.Status.State == "active"
	})
	a, _ := amtest.Find(alerts, map[string]string{"alert_id": id1})
	for k, v := range map[string]string{"alertname": "EXIT_OWNER_VIOLATION", "severity": "critical", "sources": "rogue_service", "symbols": "BTCUSDT"} {
		if a.Labels[k] != v {
			t.Errorf("label %s=%q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if a.Annotations["deny_count"] != "1" || a.Annotations["last_plan_id"] != "p-1" || !strings.Contains(a.Annotations["summary"], "EXIT_OWNER_VIOLATION") {
		t.Errorf("annotations %v", a.Annotations)
	}
	if !a.StartsAt.Equal(f.clock.Now()) {
		t.Errorf("startsAt %s, want the watch's firing time %s", a.StartsAt, f.clock.Now())
	}
	f.waitDelivered("firing")

	// The window passes: the watch resolves, the alert leaves Alertmanager.
	f.clock.Advance(6 * time.Minute)
	f.runWatch(alert.Resolved)
	am.WaitFor(t, "EXIT_OWNER_VIOLATION resolved", 20*time.Second, func(as []amtest.Alert) bool {
		_, ok := amtest.Find(as, map[string]string{"alert_id": id1})
		return !ok
	})
	f.waitDelivered("resolved")
	if n := sumMetric(t, reg, "quantum_alerts_forwarded_total", map[string]string{"status": "firing"}); n != 1 {
		t.Errorf("forwarded firing %v, want 1", n)
	}

	// Alertmanager down: two alerts raised meanwhile stay pending.
	am.Stop()
	f.clock.Advance(time.Minute)
	id2 := f.denyAndWatch("p-2", "intent_bridge").Alert.AlertID
	refresh := alert.Alert{Type: alert.TypePolicyRefreshFailed, Severity: alert.SeverityCritical, Count: alert.CountOccurrences,
		Window: 30 * time.Minute, Details: map[string]string{"reason": "POLICY_INVALID"}}
	r, err := f.pub.Fire(ctx, refresh, time.Hour)
	if err != nil || r.Outcome != alert.Fired {
		t.Fatalf("fire refresh alert: %+v %v", r, err)
	}
	f.waitLog("delivery failed: retrying", "no failed delivery logged while Alertmanager is down:\n%s")
	if p := f.pending(); p != 1 {
		t.Fatalf("pending %d while Alertmanager is down, want 1 (the entry in delivery, unacknowledged)", p)
	}
	am.StartAgain()
	both := func(as []amtest.Alert) bool {
		_, a := amtest.Find(as, map[string]string{"alert_id": id2, "alertname": "EXIT_OWNER_VIOLATION"})
		_, b := amtest.Find(as, map[string]string{"alert_id": r.AlertID, "alertname": "POLICY_REFRESH_FAILED"})
		return a && b
	}
	am.WaitFor(t, "both alerts raised during the outage", 20*time.Second, both)
	f.waitDelivered("after the outage")
	if n := sumMetric(t, reg, "quantum_alerts_forwarded_total", map[string]string{"status": "firing"}); n != 3 {
		t.Errorf("forwarded firing %v, want 3", n)
	}

	// A restart empties Alertmanager's memory; nothing new is written to
	// the stream, yet the re-send brings both firing alerts back.
	am.Stop()
	am.StartAgain()
	am.WaitFor(t, "firing alerts re-sent to a restarted Alertmanager", 20*time.Second, both)
	if _, gone := amtest.Find(mustAlerts(t, am), map[string]string{"alert_id": id1}); gone {
		t.Errorf("the resolved alert %s came back", id1)
	}
}

func mustAlerts(t *testing.T, am *amtest.Server) []amtest.Alert {
	t.Helper()
	as, err := am.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// sumMetric sums the samples of a metric family whose labels match.
func sumMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// TestWebhookRetriedUntil2xx: a webhook that fails twice gets the entry a
// third time, and only then is it acknowledged; the body is the entry.
// With an Alertmanager beside it that always answers, Alertmanager gets
// the entry once: a target that took it is not sent it again.
func TestWebhookRetriedUntil2xx(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var hookCalls, amCalls int
	var body []byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hookCalls++
		if hookCalls <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		body, _ = io.ReadAll(r.Body)
	}))
	defer hook.Close()
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" || r.Method != http.MethodPost {
			http.Error(w, "wrong path "+r.URL.Path, http.StatusNotFound)
			return
		}
		mu.Lock()
		amCalls++
		mu.Unlock()
	}))
	defer am.Close()
	fwd, _ := f.forwarder(func(c *alertforward.Config) {
		c.Webhooks = []string{hook.URL + "/hook"}
		c.Alertmanagers = []string{am.URL}
		c.ResendInterval = time.Hour // no re-send in this test
	})
	rep := f.denyAndWatch("p-9", "rogue_service")
	n, err := fwd.Drain(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Drain: %d, %v\n%s", n, err, f.log.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if hookCalls != 3 || amCalls != 1 {
		t.Fatalf("webhook called %d times (want 3), Alertmanager %d (want 1)", hookCalls, amCalls)
	}
	var got struct {
		Version string            `json:"version"`
		EntryID string            `json:"entry_id"`
		Stream  string            `json:"stream"`
		Alert   map[string]string `json:"alert"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "quantum-alert/v1" || got.EntryID != rep.Alert.EntryID || got.Stream != f.keys.Alerts() ||
		got.Alert["alert_id"] != rep.Alert.AlertID || got.Alert["status"] != "firing" || got.Alert["last_plan_id"] != "p-9" {
		t.Fatalf("webhook body %s", body)
	}
	if p := f.pending(); p != 0 {
		t.Fatalf("pending %d after delivery", p)
	}
}

// TestDrainGivesUpAndKeepsTheEntry: --once with a target that never
// answers 2xx returns an error after RetryFor and leaves the entry
// pending; the next drain, with the target back, delivers it.
func TestDrainGivesUpAndKeepsTheEntry(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	up := false
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		var b struct {
			EntryID string `json:"entry_id"`
		}
		json.NewDecoder(r.Body).Decode(&b)
		got = append(got, b.EntryID)
	}))
	defer hook.Close()
	edit := func(c *alertforward.Config) { c.Webhooks = []string{hook.URL}; c.RetryFor = 300 * time.Millisecond }
	fwd, _ := f.forwarder(edit)
	rep := f.denyAndWatch("p-1", "rogue_service")
	if n, err := fwd.Drain(context.Background()); err == nil || n != 0 || !strings.Contains(err.Error(), "left pending") || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("Drain with the target down: %d, %v", n, err)
	}
	if p := f.pending(); p != 1 {
		t.Fatalf("pending %d, want 1", p)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	fwd2, _ := f.forwarder(edit) // a new process, same consumer name
	if n, err := fwd2.Drain(context.Background()); err != nil || n != 1 {
		t.Fatalf("second Drain: %d, %v", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != rep.Alert.EntryID {
		t.Fatalf("delivered %v, want [%s]", got, rep.Alert.EntryID)
	}
	if p := f.pending(); p != 0 {
		t.Fatalf("pending %d after delivery", p)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFixture(t)
	for name, edit := range map[string]func(*alertforward.Config){
		"no target":     func(c *alertforward.Config) {},
		"not http":      func(c *alertforward.Config) { c.Alertmanagers = []string{"ftp://x"} },
		"no host":       func(c *alertforward.Config) { c.Webhooks = []string{"http://"} },
		"twice":         func(c *alertforward.Config) { c.Alertmanagers = []string{"http://a:9093", "http://a:9093/"} },
		"no consumer":   func(c *alertforward.Config) { c.Alertmanagers = []string{"http://a:9093"}; c.Consumer = "" },
		"negative wait": func(c *alertforward.Config) { c.Alertmanagers = []string{"http://a:9093"}; c.Block = -1 },
	} {
		cfg := alertforward.Config{Redis: f.rdb, Keys: f.keys, Consumer: "c", Now: time.Now}
		edit(&cfg)
		if _, err := alertforward.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// amRecorder is an Alertmanager stand-in that records every POSTed alert.
type amRecorder struct {
	mu    sync.Mutex
	posts [][]postedAlert
}

type postedAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt"`
}

// newRecorder starts an amRecorder behind a test server, closed at the
// end of the test.
func newRecorder(t *testing.T) (*amRecorder, *httptest.Server) {
	rec := &amRecorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func (a *amRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var batch []postedAlert
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.posts = append(a.posts, batch)
	a.mu.Unlock()
}

func (a *amRecorder) all() [][]postedAlert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]postedAlert{}, a.posts...)
}

// TestRestartRebuildsTheFiringSet: a new forwarder process, with nothing
// new on the stream, re-sends the alert still firing (so Alertmanager
// does not expire it) and not the one already resolved.
func TestRestartRebuildsTheFiringSet(t *testing.T) {
	f := newFixture(t)
	rec, am := newRecorder(t)
	ctx := context.Background()
	expiring := alert.Alert{Type: alert.TypePolicyExpiring, Severity: alert.SeverityWarning, Count: alert.CountOccurrences, Window: time.Minute}
	refresh := alert.Alert{Type: alert.TypePolicyRefreshFailed, Severity: alert.SeverityCritical, Count: alert.CountOccurrences, Window: time.Minute}
	fired, err := f.pub.Fire(ctx, expiring, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pub.Fire(ctx, refresh, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pub.Resolve(ctx, refresh); err != nil {
		t.Fatal(err)
	}
	edit := func(c *alertforward.Config) { c.Alertmanagers = []string{am.URL} }
	first, _ := f.forwarder(edit)
	if n, err := first.Drain(ctx); err != nil || n != 3 {
		t.Fatalf("Drain: %d %v", n, err)
	}
	sent := len(rec.all())
	second, _ := f.forwarder(edit) // a restart: nothing pending, nothing new
	f.run(second)
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.all()) == sent {
		if time.Now().After(deadline) {
			t.Fatal("no re-send after the restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resend := rec.all()[sent]
	if len(resend) != 1 || resend[0].Labels["alert_id"] != fired.AlertID || resend[0].Labels["alertname"] != alert.TypePolicyExpiring || resend[0].EndsAt != "" {
		t.Fatalf("re-send after restart %+v, want only the firing %s without endsAt", resend, fired.AlertID)
	}
	if ids := second.Firing(); len(ids) != 1 || ids[0] != fired.AlertID {
		t.Fatalf("firing set %v", ids)
	}
}

// TestChangedLabelsResolveTheOldSet: the watch re-notifies an incident
// with more sources; Alertmanager sees new labels, so the forwarder
// resolves the label set it sent before, and the resolution (which
// carries no sources) resolves the current one.
func TestChangedLabelsResolveTheOldSet(t *testing.T) {
	f := newFixture(t)
	rec, am := newRecorder(t)
	ctx := context.Background()
	w, err := watch.New(watch.Config{Redis: f.rdb, Alerts: f.pub, Keys: f.keys, Now: f.clock.Now, RepeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.watch = w
	fwd, _ := f.forwarder(func(c *alertforward.Config) { c.Alertmanagers = []string{am.URL}; c.ResendInterval = time.Hour })
	f.denyAndWatch("p-1", "rogue_a")
	f.clock.Advance(2 * time.Second)
	f.denyAndWatch2("p-2", "rogue_b")
	f.clock.Advance(6 * time.Minute)
	f.runWatch(alert.Resolved)
	if n, err := fwd.Drain(ctx); err != nil || n != 3 {
		t.Fatalf("Drain: %d %v", n, err)
	}
	posts := rec.all()
	if len(posts) != 3 {
		t.Fatalf("%d posts, want 3: %+v", len(posts), posts)
	}
	if len(posts[0]) != 1 || posts[0][0].Labels["sources"] != "rogue_a" || posts[0][0].EndsAt != "" {
		t.Fatalf("first post %+v", posts[0])
	}
	if len(posts[1]) != 2 || posts[1][0].Labels["sources"] != "rogue_a,rogue_b" || posts[1][0].EndsAt != "" ||
		posts[1][1].Labels["sources"] != "rogue_a" || posts[1][1].EndsAt == "" {
		t.Fatalf("second post %+v: want the new label set firing and the old one resolved", posts[1])
	}
	if len(posts[2]) != 1 || posts[2][0].Labels["sources"] != "rogue_a,rogue_b" || posts[2][0].EndsAt == "" {
		t.Fatalf("resolution %+v: want the current label set resolved", posts[2])
	}
	if len(fwd.Firing()) != 0 {
		t.Fatalf("still firing: %v", fwd.Firing())
	}
}

// TestResendWhileOnePeerIsDown: with one Alertmanager of a pair down, a
// new entry waits (it must reach both), yet the healthy peer keeps
// getting the firing alerts re-sent, so it does not resolve them after
// resolve_timeout.
func TestResendWhileOnePeerIsDown(t *testing.T) {
	f := newFixture(t)
	up := &amRecorder{}
	healthy := httptest.NewServer(up)
	defer healthy.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	ctx := context.Background()
	expiring := alert.Alert{Type: alert.TypePolicyExpiring, Severity: alert.SeverityWarning, Count: alert.CountOccurrences, Window: time.Minute}
	fired, err := f.pub.Fire(ctx, expiring, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fwd, reg := f.forwarder(func(c *alertforward.Config) { c.Alertmanagers = []string{healthy.URL, down.URL} })
	f.run(fwd)
	// The entry reaches the healthy peer once, then re-sends follow while
	// the other keeps refusing it.
	deadline := time.Now().Add(10 * time.Second)
	for len(up.all()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("healthy peer got %d posts; log:\n%s", len(up.all()), f.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, batch := range up.all() {
		if len(batch) != 1 || batch[0].Labels["alert_id"] != fired.AlertID {
			t.Fatalf("post %d: %+v", i, batch)
		}
	}
	if p := f.pending(); p != 1 {
		t.Fatalf("pending %d, want 1: the entry has not reached both peers", p)
	}
	if n := sumMetric(t, reg, "quantum_alerts_send_failures_total", map[string]string{"target": down.URL + "/api/v2/alerts"}); n < 2 {
		t.Fatalf("failures counted for the down peer: %v", n)
	}
}

// TestResolvedWhileForwarderDown: an alert fires and is delivered; the
// forwarder stops; the watch resolves it (the resolved entry carries no
// sources). The next forwarder, whose firing set is rebuilt from the
// stream, resolves the label set that Alertmanager holds, sources
// included.
func TestResolvedWhileForwarderDown(t *testing.T) {
	f := newFixture(t)
	rec, am := newRecorder(t)
	edit := func(c *alertforward.Config) { c.Alertmanagers = []string{am.URL} }
	first, _ := f.forwarder(edit)
	f.denyAndWatch("p-1", "rogue_service")
	if n, err := first.Drain(context.Background()); err != nil || n != 1 {
		t.Fatalf("Drain: %d %v", n, err)
	}
	f.clock.Advance(6 * time.Minute)
	f.runWatch(alert.Resolved)
	second, _ := f.forwarder(edit)
	if n, err := second.Drain(context.Background()); err != nil || n != 1 {
		t.Fatalf("second Drain: %d %v", n, err)
	}
	posts := rec.all()
	if len(posts) != 2 || len(posts[1]) != 1 {
		t.Fatalf("posts %+v", posts)
	}
	if r := posts[1][0]; r.Labels["sources"] != "rogue_service" || r.Labels["symbols"] != "BTCUSDT" || r.EndsAt == "" {
		t.Fatalf("resolution %+v: want the firing label set, sources included, with endsAt", r)
	}
}

// TestTwoForwardersInOneGroup: another forwarder of the group delivers an
// alert's resolution; this one, stuck meanwhile on an entry its webhook
// refuses, stops re-sending the resolved alert at its next re-send, from
// the stream itself.
func TestTwoForwardersInOneGroup(t *testing.T) {
	f := newFixture(t)
	rec, am := newRecorder(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b webhookEntry
		json.NewDecoder(r.Body).Decode(&b)
		if b.Alert["alert_type"] == "PLAN_STREAM_TAMPERED" {
			http.Error(w, "blocked", http.StatusServiceUnavailable) // keeps this forwarder on the entry
		}
	}))
	defer hook.Close()
	ctx := context.Background()
	fwd, _ := f.forwarder(func(c *alertforward.Config) { c.Alertmanagers = []string{am.URL}; c.Webhooks = []string{hook.URL} })
	f.run(fwd)
	x := f.denyAndWatch("p-1", "rogue_service").Alert.AlertID
	f.waitDelivered("the firing alert")
	blocker := alert.Alert{Type: "PLAN_STREAM_TAMPERED", Severity: alert.SeverityCritical, Count: 1, Window: time.Minute}
	if _, err := f.pub.Fire(ctx, blocker, time.Hour); err != nil {
		t.Fatal(err)
	}
	f.waitLog("delivery failed: retrying", "the blocker was not refused:\n%s")
	// From here on, every POST to Alertmanager is a re-send (the blocker
	// reached it at the first attempt). The resolution of x is delivered by
	// "another forwarder": read and acknowledged under another consumer.
	f.clock.Advance(6 * time.Minute)
	f.runWatch(alert.Resolved)
	res, err := f.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: alertforward.DefaultGroup, Consumer: "other", Streams: []string{f.keys.Alerts(), ">"}, Block: -1}).Result()
	if err != nil || len(res[0].Messages) != 1 || res[0].Messages[0].Values["status"] != "resolved" {
		t.Fatalf("other consumer read %v %v", res, err)
	}
	f.rdb.XAck(ctx, f.keys.Alerts(), alertforward.DefaultGroup, res[0].Messages[0].ID)
	seen := len(rec.all())
	deadline := time.Now().Add(10 * time.Second)
	for {
		if posts := rec.all(); len(posts) > seen {
			last := posts[len(posts)-1]
			hasX := false
			for _, a := range last {
				hasX = hasX || a.Labels["alert_id"] == x
			}
			if !hasX {
				if len(last) != 1 || last[0].Labels["alertname"] != "PLAN_STREAM_TAMPERED" {
					t.Fatalf("re-send %+v: want the blocker alone", last)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still re-sent after another forwarder delivered its resolution:\n%s", x, f.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type webhookEntry struct {
	Alert map[string]string `json:"alert"`
}
