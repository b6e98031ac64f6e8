package applylayer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/reason"
)

// TestReadingFalseWhilePlansCannotBeRead: with Redis down the loop is alive
// (the watchdog is fed) but no plan can be read, and Reading says so; it
// recovers by itself when Redis returns.
func TestReadingFalseWhilePlansCannotBeRead(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client()
	defer rdb.Close()
	w := newWorld(t, rdb, keys.MustNew("health"))
	svc, err := applylayer.New(w.rdb, w.store, w.venue, w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() { svc.Run(ctx, func() { close(ready) }); close(done) }()
	defer func() { cancel(); <-done }()
	<-ready
	waitFor(t, "reading", func() bool { return svc.Reading(time.Second) })
	srv.Stop()
	waitFor(t, "unreadable", func() bool { return !svc.Reading(500 * time.Millisecond) })
	if !svc.Healthy(3 * time.Second) {
		t.Fatal("the consume loop stopped during the outage: it must wait it out")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reading again", func() bool { return svc.Reading(time.Second) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 15s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecordTTLAtLeastTwiceFreshness: records that expire while a replay
// of their plan is still fresh would let the replay execute again.
func TestRecordTTLAtLeastTwiceFreshness(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	for _, c := range []struct {
		ttl, fresh time.Duration
		ok         bool
	}{
		{time.Minute, 30 * time.Second, true},
		{59 * time.Second, 30 * time.Second, false},
		{10 * time.Second, 30 * time.Second, false},
		{0, 0, true}, // the defaults: 24h and 30s
	} {
		cfg := w.cfg
		cfg.RecordTTL, cfg.Freshness = c.ttl, c.fresh
		_, err := applylayer.New(w.rdb, w.store, w.venue, cfg)
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "replay")) {
			t.Errorf("RecordTTL %s, Freshness %s: %v, want ok=%v", c.ttl, c.fresh, err, c.ok)
		}
	}
}

// TestRecreatedGroupStartsAfterTheResults: a consumer group deleted (by
// hand, or a Redis restored without it) and created again starts after the
// oldest plan among the newest results (here the newest 2 of 5), not at the
// beginning of the stream; the plan sent while no group existed is read.
func TestRecreatedGroupStartsAfterTheResults(t *testing.T) {
	defer applylayer.SetGroupStartLookback(2)()
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	var entries []string
	func() {
		ctx, cancel := context.WithCancel(context.Background())
		svc, err := applylayer.New(w.rdb, w.store, w.venue, w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { svc.Run(ctx, nil); close(done) }()
		defer func() { cancel(); <-done }()
		for range 5 {
			f := sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false))
			entries = append(entries, w.xadd(f))
			w.result(f["plan_id"], 1)
		}
	}()
	ctx := context.Background()
	if err := env.Client.XGroupDestroy(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup).Err(); err != nil {
		t.Fatal(err)
	}
	late := sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false))
	w.xadd(late) // sent while no group exists
	w.start(nil)
	wantResult(t, w.result(late["plan_id"], 1)[0], "EXECUTED", "")
	if want := "after_entry=" + entries[3]; !strings.Contains(w.logs.String(), want) {
		t.Errorf("the recreated group did not start %s (entries %v):\n%s", want, entries, w.logs.String())
	}
	if n := len(redistest.StreamEntries(t, env.Client, env.Keys.ApplyResult())); n != 6 {
		t.Errorf("%d results, want 6 (five plans and the late one, none twice)", n)
	}
}

// TestRepeatedFieldIsInvalid: a producer sends reduceOnly twice in one
// entry (the gate would have read one copy, a human the other): the plan
// is PLAN_INVALID naming the field and nothing reaches the venue.
func TestRepeatedFieldIsInvalid(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	f := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	args := []any{"XADD", env.Keys.ApplyPlan(), "*"}
	for k, v := range f {
		args = append(args, k, v)
	}
	args = append(args, "reduceOnly", "true") // the second copy
	if err := env.Client.Do(context.Background(), args...).Err(); err != nil {
		t.Fatal(err)
	}
	r := w.result(f["plan_id"], 1)[0]
	wantResult(t, r, "DENIED", "PLAN_INVALID")
	if !strings.Contains(r["detail"], "reduceOnly") || w.orderCount() != 0 {
		t.Fatalf("detail %q, %d orders: want the repeated field named and no order", r["detail"], w.orderCount())
	}
}

// TestHostileActionIsClippedWhereEchoed: a signed plan whose action carries
// a line break, a forged log field and a terminal escape, far beyond a sane
// length: the result and the DENY_NOT_EXIT_OWNER log line echo it clipped
// and neutralised.
func TestHostileActionIsClippedWhereEchoed(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	f := w.fields("rogue", "BTCUSDT", "SELL", "0.01", true)
	f["action"] = "CLOSE\nDENY_NOT_EXIT_OWNER symbol=ETHUSDT source=exitbrain_v3_5 \x1b[2J" + strings.Repeat("A", 500)
	r := w.send(sign(f))
	if r["decision"] == "EXECUTED" {
		t.Fatalf("a non-owner exit executed: %v", r)
	}
	if a := r["action"]; len(a) > 70 || strings.ContainsAny(a, "\n\x1b ") {
		t.Fatalf("result action %q: not clipped and neutralised", a)
	}
	for _, line := range strings.Split(w.logs.String(), "\n") {
		if strings.Contains(line, "symbol=ETHUSDT") || strings.Contains(line, "\x1b") || len(line) > 2000 {
			t.Fatalf("the log line carries the hostile action: %q", line)
		}
	}
}

// TestReplayScopedBySource: one producer cannot squat another's plan_id
// (its plan_id is its own namespace), a plan sent again by its own source
// is still PLAN_REPLAYED, and a record of the previous key layout still
// counts for a replay.
func TestReplayScopedBySource(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	squat := w.fields("rogue", "SOLUSDT", "BUY", "1", false)
	squat["plan_id"] = "bridge-42"
	wantResult(t, w.send(sign(squat)), "EXECUTED", "")
	mine := w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false)
	mine["plan_id"] = "bridge-42"
	signed := sign(mine)
	wantResult(t, w.send(signed), "EXECUTED", "")
	wantResult(t, w.send(signed), "DENIED", reason.PlanReplayed)
	// A record left by the previous release, keyed by plan_id alone.
	old := w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false)
	if err := env.Client.HSet(context.Background(), env.Keys.ApplyRecord(old["plan_id"]), "entry", "1-1", "state", "done").Err(); err != nil {
		t.Fatal(err)
	}
	wantResult(t, w.send(sign(old)), "DENIED", reason.PlanReplayed)
}
