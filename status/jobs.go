package status

// Open alerts, the exit-owner watch's heartbeat and the last proof run.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func readAlerts(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	start := strconv.FormatInt(now.Add(-opt.AlertLookback).UnixMilli(), 10)
	msgs, err := rdb.XRange(ctx, opt.Keys.Alerts(), start, "+").Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.Alerts(), err)
	}
	latest := map[string]Alert{}
	for _, m := range msgs {
		f := strFields(m.Values)
		id := f["alert_id"]
		if id == "" {
			id = m.ID
		}
		ts, _ := strconv.ParseInt(f["timestamp"], 10, 64)
		latest[id] = Alert{AlertID: id, Type: f["alert_type"], Status: f["status"], Severity: f["severity"], Timestamp: ts, Fields: f}
	}
	for _, id := range slices.Sorted(maps.Keys(latest)) {
		a := latest[id]
		if a.Status == "resolved" {
			continue
		}
		r.Alerts = append(r.Alerts, a)
		r.attention("alert %s %s (%s) is %s", a.Type, a.AlertID, a.Severity, a.Status)
	}
	return nil
}

func readWatch(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	var h map[string]string
	key := opt.Keys.Heartbeat(opt.WatchJobs[0])
	w := &r.Watch
	w.Job = opt.WatchJobs[0]
	for _, job := range opt.WatchJobs {
		k := opt.Keys.Heartbeat(job)
		hj, err := rdb.HGetAll(ctx, k).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", k, err)
		}
		if len(hj) > 0 && (h == nil || hj["last_ok_at"] > h["last_ok_at"]) {
			h, key, w.Job = hj, k, job
		}
	}
	if len(h) == 0 {
		w.Stale = true
		r.attention("no heartbeat of the exit-owner watch (%s): it has never run", key)
		return nil
	}
	w.Present = true
	w.Outcome, w.Error = h["outcome"], h["error"]
	w.LastRunAt, _ = strconv.ParseInt(h["last_run_at"], 10, 64)
	w.LastOKAt, _ = strconv.ParseInt(h["last_ok_at"], 10, 64)
	w.IntervalSec, _ = strconv.ParseInt(h["interval_sec"], 10, 64)
	staleAfter := DefaultStaleAfter
	if w.IntervalSec > 0 {
		staleAfter = 3*time.Duration(w.IntervalSec)*time.Second + 30*time.Second
	}
	if w.LastOKAt == 0 {
		w.Stale = true
		r.attention("the exit-owner watch has never succeeded (outcome %s: %s)", w.Outcome, w.Error)
		return nil
	}
	w.AgeSec = now.Unix() - w.LastOKAt
	if time.Duration(w.AgeSec)*time.Second > staleAfter {
		w.Stale = true
		r.attention("exit-owner watch heartbeat %ds old (stale after %s)", w.AgeSec, staleAfter)
	}
	return nil
}

func readProof(ctx context.Context, rdb redis.Cmdable, opt Options, _ time.Time, r *Report) error {
	msgs, err := rdb.XRevRangeN(ctx, opt.Keys.ProofRuns(), "+", "-", 1).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.ProofRuns(), err)
	}
	if len(msgs) == 0 {
		return nil
	}
	p := &Proof{ID: msgs[0].ID, Fields: strFields(msgs[0].Values)}
	r.LastProof = p
	if res := strings.ToUpper(p.Fields["result"]); res != "" && res != "PASS" {
		r.attention("last proof run %s: %s %s", p.ID, p.Fields["proof"], res)
	}
	return nil
}
