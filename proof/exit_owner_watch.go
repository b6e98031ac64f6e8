package proof

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/watch"
)

// watchState is what exit-owner-watch's setup did in its scratch namespace.
type watchState struct {
	ks                  keys.Space
	inside, edge, outID string // plan ids: in the window, at its far edge inside, just outside
	canaryID            string
	first, second       *watch.Report
	firstErr, secondErr error
	alertsAfterFirst    []redis.XMessage
	alertsAfterSecond   []redis.XMessage
	resolved            *watch.Report
	resolvedErr         error
	alertsAfterResolve  []redis.XMessage
}

const watchWindow = 5 * time.Minute

func scratchWatcher(r *run, rdb watch.Redis, ks keys.Space, now func() time.Time) (*watch.Watcher, error) {
	al, err := alert.New(r.Redis, alert.Options{Keys: ks, Now: now})
	if err != nil {
		return nil, err
	}
	return watch.New(watch.Config{Redis: rdb, Alerts: al, Keys: ks, Log: scratchLog, Now: now,
		Window: watchWindow, RepeatInterval: time.Hour, Interval: watch.DefaultInterval})
}

// watchSetup writes denial results with chosen stream ids into a scratch
// result stream (the watch reads ids, so the window's edges are exact),
// then runs the real watch over it three times: once, again at once, and
// once with its clock moved past the window.
func watchSetup(ctx context.Context, r *run) error {
	s := &watchState{ks: r.newScratch()}
	r.state = s
	now := r.Now()
	s.inside, s.edge, s.outID, s.canaryID = r.planID("inside"), r.planID("edge"), r.planID("outside"), r.planID("canary")
	add := func(at time.Time, planID, source, canary string) error {
		id := fmt.Sprintf("%d-0", at.UnixMilli())
		res := plan.Result{PlanID: planID, Source: source, Symbol: "BTCUSDT", Decision: plan.Denied,
			Reason: reason.DenyNotExitOwner, Canary: canary == "true", Timestamp: at.Unix()}
		return r.Redis.XAdd(ctx, &redis.XAddArgs{Stream: s.ks.ApplyResult(), ID: id, Values: res.Fields()}).Err()
	}
	for _, e := range []struct {
		at             time.Time
		id, src, canry string
	}{
		{now.Add(-watchWindow - time.Minute), s.outID, "proof_rogue_old", "false"},
		{now.Add(-watchWindow + 20*time.Second), s.edge, "proof_rogue", "false"},
		{now.Add(-time.Minute), s.canaryID, "quantum_proof", "true"},
		{now.Add(-30 * time.Second), s.inside, "proof_rogue", "false"},
	} {
		if err := add(e.at, e.id, e.src, e.canry); err != nil {
			return fmt.Errorf("write a scratch denial: %w", err)
		}
	}
	clock := func() time.Time { return now }
	w, err := scratchWatcher(r, r.Redis, s.ks, clock)
	if err != nil {
		return err
	}
	readAlerts := func() []redis.XMessage {
		ms, _ := r.Redis.XRange(ctx, s.ks.Alerts(), "-", "+").Result()
		return ms
	}
	s.first, s.firstErr = w.Run(ctx)
	s.alertsAfterFirst = readAlerts()
	s.second, s.secondErr = w.Run(ctx)
	s.alertsAfterSecond = readAlerts()
	later := func() time.Time { return now.Add(watchWindow + time.Minute) }
	if w, err = scratchWatcher(r, r.Redis, s.ks, later); err != nil {
		return err
	}
	s.resolved, s.resolvedErr = w.Run(ctx)
	s.alertsAfterResolve = readAlerts()
	return nil
}

func exitOwnerWatch() *Proof {
	st := func(r *run) *watchState { return stateOf[watchState](r) }
	firstOK := func(s *watchState) (Status, string, bool) {
		if s.firstErr != nil {
			return Fail, "the scratch watch run failed: " + s.firstErr.Error(), false
		}
		return "", "", true
	}
	p := &Proof{
		Name:    "exit-owner-watch",
		Script:  "scripts/proof_exit_owner_watch.sh",
		Purpose: "ownership denials are counted in the window and alerted once with every field, and the live watch is alive on its timer",
		setup:   watchSetup,
	}
	p.Tests = []Test{
		{Name: "counts-denials-in-window", Doc: "a scratch watch run counts exactly the two real denials inside the 5-minute window",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if f, ev, ok := firstOK(s); !ok {
					return f, ev
				}
				if s.first.Denials != 2 {
					return Fail, fmt.Sprintf("deny_count=%d, want 2 (two denials inside the window)", s.first.Denials)
				}
				return Pass, fmt.Sprintf("deny_count=2 over %d results scanned in a %s window", s.first.Scanned, alert.FormatWindow(s.first.Window))
			}},
		{Name: "window-boundaries", Doc: "a denial 20 s inside the window's far edge is counted, one a minute before the window is not",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if f, ev, ok := firstOK(s); !ok {
					return f, ev
				}
				if s.first.FirstPlanID != s.edge || s.first.LastPlanID != s.inside {
					return Fail, fmt.Sprintf("first_plan_id=%s last_plan_id=%s, want %s (edge) and %s (newest); %s is outside", s.first.FirstPlanID, s.first.LastPlanID, s.edge, s.inside, s.outID)
				}
				for _, src := range s.first.Sources {
					if src == "proof_rogue_old" {
						return Fail, "the denial before the window was counted (source proof_rogue_old listed)"
					}
				}
				return Pass, fmt.Sprintf("first_plan_id=%s (edge) last_plan_id=%s; %s (1 min before the window) not counted", s.edge, s.inside, s.outID)
			}},
		{Name: "canary-denials-apart", Doc: "a canary denial is counted apart and never alerted",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if f, ev, ok := firstOK(s); !ok {
					return f, ev
				}
				if s.first.CanaryDenials != 1 {
					return Fail, fmt.Sprintf("canary_deny_count=%d, want 1", s.first.CanaryDenials)
				}
				for _, src := range s.first.Sources {
					if src == "quantum_proof" {
						return Fail, "the canary's source is listed in the alert's sources"
					}
				}
				return Pass, "canary_deny_count=1, not among the alert's sources"
			}},
		{Name: "one-alert", Doc: "the run raises exactly one EXIT_OWNER_VIOLATION alert",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if f, ev, ok := firstOK(s); !ok {
					return f, ev
				}
				if n := countAlerts(s.alertsAfterFirst, "firing"); n != 1 {
					return Fail, fmt.Sprintf("%d firing EXIT_OWNER_VIOLATION alerts after one run, want 1", n)
				}
				return Pass, fmt.Sprintf("one alert %s (%s)", s.first.Alert.AlertID, s.first.Alert.Outcome)
			}},
		{Name: "alert-fields", Doc: "the alert carries alert_type, status, severity, alert_id, deny_count, window, timestamp, sources, symbols, first_plan_id and last_plan_id, with the counted values",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if f, ev, ok := firstOK(s); !ok {
					return f, ev
				}
				if len(s.alertsAfterFirst) == 0 {
					return Fail, "no alert"
				}
				v := s.alertsAfterFirst[0].Values
				want := map[string]string{"alert_type": "EXIT_OWNER_VIOLATION", "status": "firing", "deny_count": "2", "window": "5min",
					"sources": "proof_rogue", "symbols": "BTCUSDT", "first_plan_id": s.edge, "last_plan_id": s.inside}
				for _, k := range slices.Sorted(maps.Keys(want)) {
					if fmt.Sprint(v[k]) != want[k] {
						return Fail, fmt.Sprintf("alert field %s=%q, want %q", k, v[k], want[k])
					}
				}
				for _, k := range []string{"severity", "alert_id", "timestamp"} {
					if fmt.Sprint(v[k]) == "" || v[k] == nil {
						return Fail, fmt.Sprintf("alert field %s is missing", k)
					}
				}
				ts, err := strconv.ParseInt(fmt.Sprint(v["timestamp"]), 10, 64)
				if err != nil || ts != r.Now().Unix() && absDur(time.Unix(ts, 0).Sub(r.Now())) > time.Minute {
					return Fail, fmt.Sprintf("alert timestamp %v is not the run's unix time", v["timestamp"])
				}
				return Pass, fmt.Sprintf("alert_type=EXIT_OWNER_VIOLATION status=firing severity=%v deny_count=2 window=5min sources=proof_rogue symbols=BTCUSDT first/last_plan_id set, alert_id=%v", v["severity"], v["alert_id"])
			}},
		{Name: "no-alert-on-rerun", Doc: "a second run at once finds the same denials and publishes nothing (held by the dedupe)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.secondErr != nil {
					return Fail, "the second run failed: " + s.secondErr.Error()
				}
				if len(s.alertsAfterSecond) != len(s.alertsAfterFirst) || s.second.Alert.Outcome != alert.Held {
					return Fail, fmt.Sprintf("second run: alert %s, %d alert entries (was %d), want held and none added", s.second.Alert.Outcome, len(s.alertsAfterSecond), len(s.alertsAfterFirst))
				}
				return Pass, fmt.Sprintf("second run deny_count=%d, alert held, still %d entry", s.second.Denials, len(s.alertsAfterSecond))
			}},
		{Name: "resolves-when-clean", Doc: "a run once the denials have left the window publishes one status=resolved alert",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.resolvedErr != nil {
					return Fail, "the later run failed: " + s.resolvedErr.Error()
				}
				if s.resolved.Denials != 0 || countAlerts(s.alertsAfterResolve, "resolved") != 1 {
					return Fail, fmt.Sprintf("later run: deny_count=%d, %d resolved alerts, want 0 and 1", s.resolved.Denials, countAlerts(s.alertsAfterResolve, "resolved"))
				}
				return Pass, fmt.Sprintf("clean window: one resolved alert for %s", s.resolved.Alert.AlertID)
			}},
		{Name: "redis-down-not-clean", Doc: "a watch run that cannot reach Redis is an error, never a clean or deduped result",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				down := unreachableRedis()
				defer down.Close()
				w, err := scratchWatcher(r, down, s.ks, r.Now)
				if err != nil {
					return Fail, err.Error()
				}
				rep, err := w.Run(ctx)
				if err == nil {
					return Fail, fmt.Sprintf("a run without Redis returned no error (outcome %s)", rep.Outcome())
				}
				return Pass, "a run without Redis fails: " + err.Error()
			}},
		{Name: "live-heartbeat-fresh", Doc: "the live watch's heartbeat was written less than two intervals ago (10 minutes on the 5-minute timer) by a run that could check",
			Run: liveHeartbeat},
		{Name: "live-window-covers-interval", Doc: "the live watch counts a window at least as long as its interval, so no denial falls between two runs",
			Run: func(ctx context.Context, r *run) (Status, string) {
				hb, err := r.Redis.HGetAll(ctx, r.Keys.Heartbeat(watch.JobTimer)).Result()
				if err != nil || len(hb) == 0 {
					return Fail, fmt.Sprintf("no heartbeat at %s: %v", r.Keys.Heartbeat(watch.JobTimer), err)
				}
				win, err := parseWindow(hb["window"])
				iv, err2 := strconv.Atoi(hb["interval_sec"])
				if err != nil || err2 != nil {
					return Fail, fmt.Sprintf("heartbeat window=%q interval_sec=%q do not parse", hb["window"], hb["interval_sec"])
				}
				if win < time.Duration(iv)*time.Second {
					return Fail, fmt.Sprintf("window %s is shorter than the interval %ds: denials between runs are missed", hb["window"], iv)
				}
				return Pass, fmt.Sprintf("window %s >= interval %ds", hb["window"], iv)
			}},
		{Name: "watch-timer-active", Doc: "quantum-exit-owner-watch.timer is installed (enabled) and active (SKIP where systemd is absent)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				return timerActive(ctx, r, "quantum-exit-owner-watch.timer")
			}},
	}
	return p
}

func countAlerts(ms []redis.XMessage, status string) int {
	n := 0
	for _, m := range ms {
		if m.Values["alert_type"] == "EXIT_OWNER_VIOLATION" && m.Values["status"] == status {
			n++
		}
	}
	return n
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// parseWindow reads the alert's window text ("5min", "90s", "1h").
func parseWindow(s string) (time.Duration, error) {
	s = strings.Replace(s, "min", "m", 1)
	return time.ParseDuration(s)
}

func liveHeartbeat(ctx context.Context, r *run) (Status, string) {
	key := r.Keys.Heartbeat(watch.JobTimer)
	hb, err := r.Redis.HGetAll(ctx, key).Result()
	if err != nil {
		return Fail, fmt.Sprintf("read %s: %v", key, err)
	}
	if len(hb) == 0 {
		return Fail, fmt.Sprintf("no heartbeat at %s: the exit-owner watch has never run under this prefix", key)
	}
	last, err := strconv.ParseInt(hb["last_run_at"], 10, 64)
	if err != nil {
		return Fail, fmt.Sprintf("%s last_run_at=%q is not a number", key, hb["last_run_at"])
	}
	iv, err := strconv.Atoi(hb["interval_sec"])
	if err != nil || iv <= 0 {
		iv = int(watch.DefaultInterval / time.Second)
	}
	limit := 2 * time.Duration(iv) * time.Second
	age := r.Now().Sub(time.Unix(last, 0)).Round(time.Second)
	if age >= limit {
		return Fail, fmt.Sprintf("the watch's last run was %s ago (last_run_at %s), want less than %s (2 x interval %ds): the watch is not running", age, time.Unix(last, 0).UTC().Format(time.RFC3339), limit, iv)
	}
	if hb["outcome"] == watch.OutcomeError {
		return Fail, fmt.Sprintf("the watch's last run %s ago could not check: %s", age, hb["error"])
	}
	return Pass, fmt.Sprintf("last run %s ago (< %s), outcome=%s deny_count=%s", age, limit, hb["outcome"], hb["deny_count"])
}
