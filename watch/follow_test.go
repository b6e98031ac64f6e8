package watch_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/watch"
)

// follower is a Follow running in the background on its own blocking
// client, as `quantum exit-owner watch --follow` runs it.
type follower struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *fixture) follow(edit func(*watch.Config)) *follower {
	f.t.Helper()
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: f.env.Server.Socket(), ContextTimeoutEnabled: true, ReadTimeout: 5 * time.Second})
	f.t.Cleanup(func() { rdb.Close() })
	w := f.watcher(rdb, func(c *watch.Config) {
		c.Block = 200 * time.Millisecond
		if edit != nil {
			edit(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	fl := &follower{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(fl.done); w.Follow(ctx) }()
	f.t.Cleanup(fl.stop)
	return fl
}

// stop cancels the follower and waits for it to return.
func (fl *follower) stop() {
	fl.cancel()
	<-fl.done
}

// waitHeartbeat polls the job's heartbeat until ok accepts it, or fails
// the test after 10s (a deadline for a hung test, not a timing assertion).
func (f *fixture) waitHeartbeat(job string, ok func(map[string]string) bool) map[string]string {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := f.heartbeat(job)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("heartbeat %s not as wanted within 10s: %v\nlog:\n%s", job, h, f.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextAlert blocks until the alert stream has an entry after id, and
// returns it; it fails the test after 10s.
func (f *fixture) nextAlert(after string) redis.XMessage {
	f.t.Helper()
	res, err := f.env.Client.XRead(context.Background(), &redis.XReadArgs{
		Streams: []string{f.env.Keys.Alerts(), after}, Count: 1, Block: 10 * time.Second,
	}).Result()
	if err != nil {
		f.t.Fatalf("no alert after %s within 10s: %v\nlog:\n%s", after, err, f.log.String())
	}
	return res[0].Messages[0]
}

// TestFollow: a follower raises the alert for a denial written after it
// started, without waiting for a rescan; a canary denial before it is not
// counted; later denials are held, also by a timer run sharing the dedupe
// state; a rescan with a clean window resolves; cancel stops it.
func TestFollow(t *testing.T) {
	f := newFixture(t, nil)
	f.clock.Set(time.Now())
	fl := f.follow(func(c *watch.Config) { c.Interval = time.Hour })
	f.waitHeartbeat(watch.JobFollow, func(h map[string]string) bool { return h["outcome"] == "clean" })

	canary := denial("", "c1", "quantum_proof", "BTCUSDT")
	canary.canary = "true"
	f.add(canary)
	start := time.Now()
	f.add(denial("", "p1", "rogue", "BTCUSDT"))
	m := f.nextAlert("0-0")
	t.Logf("follow mode: denial XADD returned to alert read: %s", time.Since(start))
	got := map[string]string{}
	for k, v := range m.Values {
		got[k] = v.(string)
	}
	if got["status"] != "firing" || got["deny_count"] != "1" || got["first_plan_id"] != "p1" || got["last_plan_id"] != "p1" || got["sources"] != "rogue" {
		t.Fatalf("alert %v: want firing, one denial p1 by rogue (the canary not counted)", got)
	}

	// A second denial: held by the repeat interval, recorded in the heartbeat.
	f.add(denial("", "p2", "rogue", "ETHUSDT"))
	f.waitHeartbeat(watch.JobFollow, func(h map[string]string) bool { return h["deny_count"] == "2" && h["alert"] == "held" })
	// A timer run at the same time shares the incident: held too.
	if rep := f.run(); rep.Alert.Outcome != alert.Held || rep.Denials != 2 || rep.CanaryDenials != 1 {
		t.Fatalf("timer run beside the follower: %+v", rep)
	}
	if n := len(f.alerts()); n != 1 {
		t.Fatalf("%d alerts, want 1", n)
	}

	// The window empties (clock moved past it) and the rescan is due: resolved.
	f.clock.Advance(2 * time.Hour)
	resolved := f.nextAlert(m.ID)
	if resolved.Values["status"] != "resolved" || resolved.Values["alert_id"] != fingerprint+"-1" {
		t.Fatalf("after the window emptied: %v", resolved.Values)
	}
	fl.stop()
	if !strings.Contains(f.log.String(), watch.Tag+" follow stopped") {
		t.Fatalf("log:\n%s", f.log.String())
	}
}

// TestFollowSurvivesRedisRestart: a follower facing a dead Redis logs,
// retries, and after the restart raises the alert for a denial written
// then.
func TestFollowSurvivesRedisRestart(t *testing.T) {
	f := newOwnFixture(t)
	f.clock.Set(time.Now())
	own := f.env.Server
	f.follow(func(c *watch.Config) { c.Interval = time.Hour })
	f.waitHeartbeat(watch.JobFollow, func(h map[string]string) bool { return h["outcome"] == "clean" })
	own.Stop()
	// Wait until the follower has noticed.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.log.String(), "retrying with a full check") {
		if time.Now().After(deadline) {
			t.Fatalf("follower did not notice the outage:\n%s", f.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := own.Restart(); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(time.Now())
	f.add(denial("", "p1", "rogue", "BTCUSDT"))
	if m := f.nextAlert("0-0"); m.Values["status"] != "firing" || m.Values["first_plan_id"] != "p1" {
		t.Fatalf("alert after the restart: %v", m.Values)
	}
}

// TestLoop: on a fake clock the loop runs at once, then every interval,
// and stops with its context.
func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r := &countingRunner{}
		done := make(chan struct{})
		go func() { watch.Loop(ctx, r, 5*time.Minute); close(done) }()
		synctest.Wait()
		if n := r.runs.Load(); n != 1 {
			t.Fatalf("%d runs at start, want 1", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := r.runs.Load(); n != 13 {
			t.Fatalf("%d runs after an hour, want 13", n)
		}
		cancel()
		<-done
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := r.runs.Load(); n != 13 {
			t.Fatalf("%d runs after the loop stopped, want 13", n)
		}
	})
}

// countingRunner counts runs; every other
// run fails, which must not stop the loop.
type countingRunner struct{ runs atomic.Int64 }

func (c *countingRunner) Run(context.Context) (*watch.Report, error) {
	if c.runs.Add(1)%2 == 0 {
		return &watch.Report{}, context.DeadlineExceeded
	}
	return &watch.Report{}, nil
}
