// Package status reads the health of a deployment from Redis in one pass:
// the live policy, the apply layer's consumer group, recent results by
// decision and denial reason, open alerts, the exit-owner watch's heartbeat
// and the last proof run. It only reads. `quantum status` prints a Report;
// `quantum dev` draws its live summary from one.
//
// A Report says what needs attention (Attention): no valid policy or too
// little validity left, a firing alert, a stale watch heartbeat, plans
// pending with no consumer or a growing backlog, a failed last proof. A
// Redis error is returned, never reported as healthy.
package status

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/planstream"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/migrate"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// Defaults of Options.
const (
	DefaultWindow        = time.Hour
	DefaultAlertLookback = 24 * time.Hour
	DefaultMinRemaining  = 30 * time.Minute
	DefaultGroup         = keys.ApplyGroup
	// DefaultStaleAfter is how old the watch heartbeat may be when it does
	// not record its interval: the timer runs every 5 minutes.
	DefaultStaleAfter = 15 * time.Minute
	// resultScanLimit bounds one window read: beyond it the counts say so.
	resultScanLimit = 200_000
)

// DefaultWatchJobs are the heartbeat jobs of package watch (JobTimer,
// JobFollow).
var DefaultWatchJobs = []string{keys.JobWatchTimer, keys.JobWatchFollow}

// Options configures Collect. Keys and Now are required.
type Options struct {
	Keys          keys.Space
	Keyring       *policy.TrustedKeys // trusted policy keys; nil: the signature is not checked
	Now           func() time.Time
	Window        time.Duration // results counted over this window (DefaultWindow)
	AlertLookback time.Duration // alerts read back this far (DefaultAlertLookback)
	MinRemaining  time.Duration // less validity left than this needs attention (DefaultMinRemaining)
	Group         string        // the apply layer's consumer group (DefaultGroup)
	// WatchJobs are the heartbeat jobs of the watch; the freshest counts
	// (DefaultWatchJobs: the timer's and --follow's).
	WatchJobs []string
	// ResultKey, when set, authenticates results: entries whose result_mac
	// does not verify are counted as forged, not by decision.
	ResultKey []byte
}

// Policy is the live policy as a reader sees it.
type Policy struct {
	Present      bool   `json:"present"`
	Version      string `json:"version,omitempty"`
	Seq          uint64 `json:"seq,omitempty"`
	Hash         string `json:"hash,omitempty"`
	TradingState string `json:"trading_state,omitempty"`
	IssuedAt     int64  `json:"issued_at,omitempty"`
	ValidUntil   int64  `json:"valid_until,omitempty"`
	AgeSec       int64  `json:"age_sec"`
	RemainingSec int64  `json:"remaining_sec"`
	// Signature is "ok", "not checked" (no keyring) or the reason code of
	// the refusal (POLICY_SIGNATURE_INVALID, POLICY_HASH_MISMATCH, ...).
	Signature string `json:"signature"`
	Valid     bool   `json:"valid"` // verified and in force; false when not checked
	// LegacyWriter names the fields a writer changed outside the publish
	// when the hash or signature does not match (policystore.Divergence).
	LegacyWriter *policystore.Divergence `json:"legacy_writer,omitempty"`
}

// Consumer is one consumer of the apply layer's group.
type Consumer struct {
	Name    string `json:"name"`
	Pending int64  `json:"pending"`
	IdleMs  int64  `json:"idle_ms"`
}

// Group is the apply layer's consumer group on the plan stream.
type Group struct {
	Exists    bool       `json:"exists"`
	Pending   int64      `json:"pending"`
	Lag       int64      `json:"lag"` // entries after the group's last-delivered id, counted up to BacklogLimit+1
	Consumers []Consumer `json:"consumers"`
	PlanLen   int64      `json:"plan_stream_length"`
}

// Results counts the results of the window.
type Results struct {
	WindowSec  int64            `json:"window_sec"`
	Total      int64            `json:"total"`
	ByDecision map[string]int64 `json:"by_decision"`
	Denials    map[string]int64 `json:"denials_by_reason"`
	Truncated  bool             `json:"truncated,omitempty"`
	// Authenticated says whether results were checked with the result key;
	// Forged counts those that did not verify.
	Authenticated bool  `json:"authenticated"`
	Forged        int64 `json:"forged"`
}

// Alert is an alert whose latest status is not resolved.
type Alert struct {
	AlertID   string            `json:"alert_id"`
	Type      string            `json:"alert_type"`
	Status    string            `json:"status"`
	Severity  string            `json:"severity"`
	Timestamp int64             `json:"timestamp"`
	Fields    map[string]string `json:"fields"`
}

// Heartbeat is a periodic job's last run.
type Heartbeat struct {
	Job         string `json:"job"`
	Present     bool   `json:"present"`
	Outcome     string `json:"outcome,omitempty"`
	Error       string `json:"error,omitempty"`
	LastRunAt   int64  `json:"last_run_at,omitempty"`
	LastOKAt    int64  `json:"last_ok_at,omitempty"`
	AgeSec      int64  `json:"age_sec"` // since the last successful run
	IntervalSec int64  `json:"interval_sec,omitempty"`
	Stale       bool   `json:"stale"`
}

// Proof is the newest entry of the proofs ledger, its fields as written.
type Proof struct {
	ID     string            `json:"id"`
	Fields map[string]string `json:"fields"`
}

// Report is one reading of the deployment.
type Report struct {
	CheckedAt int64     `json:"checked_at"`
	Prefix    string    `json:"prefix"`
	Policy    Policy    `json:"policy"`
	Group     Group     `json:"apply_layer"`
	Results   Results   `json:"results"`
	Alerts    []Alert   `json:"open_alerts"`
	Watch     Heartbeat `json:"watch"`
	LastProof *Proof    `json:"last_proof"`
	Exposure  *Exposure `json:"exposure,omitempty"` // the exposure limits, when the policy sets any (exposure.go)
	// Tampered lists the traces of tampering found on the plan stream.
	Tampered []planstream.Finding `json:"plan_stream_tampered"`
	// ForeignGroups are the other consumer groups on the plan stream
	// (foreign.go): each one is delivered every plan.
	ForeignGroups []migrate.Group `json:"foreign_groups"`
	// Attention lists, in words, what needs an operator; empty when healthy.
	Attention []string `json:"attention"`
}

// LiveConsumerIdle is how recently a consumer must have been served to
// count as at work.
const LiveConsumerIdle = 30 * time.Second

// BacklogLimit is the pending plus lag beyond which the apply layer is
// falling behind.
const BacklogLimit = 1000

// Collect reads the deployment once. An error means it could not check
// (Redis unreachable, a permission missing): the caller must not read the
// report as healthy.
func Collect(ctx context.Context, rdb redis.Cmdable, opt Options) (*Report, error) {
	if opt.Keys.Prefix() == "" || opt.Now == nil {
		return nil, errors.New("status: Keys and Now are required")
	}
	opt.Window = cmpOr(opt.Window, DefaultWindow)
	opt.AlertLookback = cmpOr(opt.AlertLookback, DefaultAlertLookback)
	opt.MinRemaining = cmpOr(opt.MinRemaining, DefaultMinRemaining)
	if opt.Group == "" {
		opt.Group = DefaultGroup
	}
	if len(opt.WatchJobs) == 0 {
		opt.WatchJobs = DefaultWatchJobs
	}
	now := opt.Now()
	r := &Report{CheckedAt: now.Unix(), Prefix: opt.Keys.Prefix(), Alerts: []Alert{}, Attention: []string{}}
	steps := []func(context.Context, redis.Cmdable, Options, time.Time, *Report) error{
		readPolicy, readGroup, readStream, readForeign, readResults, readAlerts, readWatch, readProof, readExposure,
	}
	for _, step := range steps {
		if err := step(ctx, rdb, opt, now, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (r *Report) attention(format string, args ...any) {
	r.Attention = append(r.Attention, fmt.Sprintf(format, args...))
}

func readPolicy(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	f, err := rdb.HGetAll(ctx, opt.Keys.PolicyCurrent()).Result()
	p := &r.Policy
	if err != nil && reason.CodeOf(policystore.ReadError(err)) == reason.PolicyParseError {
		// A string (a legacy SET) or any other type: readers refuse it.
		p.Present, p.Signature = true, string(reason.PolicyParseError)
		r.attention("policy key %s is not a hash (%s): every plan is denied", opt.Keys.PolicyCurrent(), reason.PolicyParseError)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.PolicyCurrent(), err)
	}
	if len(f) == 0 {
		p.Signature = string(reason.PolicyMissing)
		r.attention("no policy at %s (%s): every plan is denied", opt.Keys.PolicyCurrent(), reason.PolicyMissing)
		return nil
	}
	p.Present = true
	p.Version, p.Hash, p.TradingState = f[policy.FieldVersion], f[policy.FieldHash], f[policy.FieldTradingState]
	p.Seq, _ = strconv.ParseUint(f[policy.FieldSeq], 10, 64)
	p.IssuedAt, _ = strconv.ParseInt(f[policy.FieldIssuedAt], 10, 64)
	p.ValidUntil, _ = strconv.ParseInt(f[policy.FieldValidUntil], 10, 64)
	if p.IssuedAt > 0 {
		p.AgeSec = now.Unix() - p.IssuedAt
	}
	if p.ValidUntil > 0 {
		p.RemainingSec = max(0, p.ValidUntil-now.Unix())
	}
	if opt.Keyring == nil {
		p.Signature = "not checked"
		r.attention("policy signature not checked: give --pubkey or QUANTUM_POLICY_PUBKEY")
		return nil
	}
	store, err := policystore.New(rdb, policystore.Options{Keys: opt.Keys, Keyring: opt.Keyring, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	sp, err := store.Accept(f)
	if err == nil {
		err = store.CheckHistory(ctx, sp) // POLICY_ROLLBACK: an older policy restored
	}
	if err != nil {
		code := reason.CodeOf(err)
		p.Signature = string(code)
		if p.LegacyWriter = store.IntegrityDivergence(ctx, err); p.LegacyWriter != nil {
			err = fmt.Errorf("%w; %s", err, p.LegacyWriter)
		}
		r.attention("policy not valid: %v", err)
		return nil
	}
	p.Signature, p.Valid = "ok", true
	p.RemainingSec = int64(max(0, sp.Remaining(now)) / time.Second)
	if left := sp.Remaining(now); left < opt.MinRemaining {
		r.attention("policy valid for %s only (under %s): is the refresh running?", left.Truncate(time.Second), opt.MinRemaining)
	}
	return nil
}

// readStream looks for traces of tampering on the plan stream (package
// planstream): plans deleted before they were read, a far-future id.
func readStream(ctx context.Context, rdb redis.Cmdable, opt Options, _ time.Time, r *Report) error {
	found, err := planstream.Inspect(ctx, rdb, opt.Keys, opt.Group)
	if err != nil {
		return err
	}
	r.Tampered = append([]planstream.Finding{}, found...)
	for _, f := range found {
		r.attention("plan stream tampered (PLAN_STREAM_TAMPERED %s): %s", f.Kind, f.Detail)
	}
	return nil
}

func readGroup(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	g := &r.Group
	g.Consumers = []Consumer{}
	g.Lag = -1
	stream := opt.Keys.ApplyPlan()
	n, err := rdb.XLen(ctx, stream).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	g.PlanLen = n
	if n == 0 {
		if ex, err := rdb.Exists(ctx, stream).Result(); err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		} else if ex == 0 {
			r.attention("no apply layer has ever consumed %s (no stream, no group %s)", stream, opt.Group)
			return nil
		}
	}
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return fmt.Errorf("XINFO GROUPS %s: %w", stream, err)
	}
	lastDelivered := ""
	for _, gr := range groups {
		if gr.Name != opt.Group {
			continue
		}
		g.Exists, g.Pending, lastDelivered = true, gr.Pending, gr.LastDeliveredID
	}
	if !g.Exists {
		r.attention("no consumer group %s on %s: no apply layer has started", opt.Group, stream)
		return nil
	}
	if g.Lag, err = countAfter(ctx, rdb, stream, lastDelivered, BacklogLimit+1); err != nil {
		return err
	}
	// XPENDING's count is the group's pending, and the same on every
	// Redis-protocol server (miniredis's XINFO GROUPS differs).
	pend, err := rdb.XPending(ctx, stream, opt.Group).Result()
	if err != nil {
		return fmt.Errorf("XPENDING %s %s: %w", stream, opt.Group, err)
	}
	g.Pending = pend.Count
	cs, err := rdb.XInfoConsumers(ctx, stream, opt.Group).Result()
	if err != nil {
		return fmt.Errorf("XINFO CONSUMERS %s %s: %w", stream, opt.Group, err)
	}
	live := 0
	for _, c := range cs {
		// miniredis reports -1ms for a consumer that never read.
		g.Consumers = append(g.Consumers, Consumer{Name: c.Name, Pending: c.Pending, IdleMs: max(0, c.Idle.Milliseconds())})
		if c.Idle < LiveConsumerIdle {
			live++
		}
	}
	// An idle consumer cannot be told from a dead one (before Redis 7.2 a
	// read that finds nothing does not reset idle, nor create the
	// consumer): only plans waiting with no consumer at work need someone.
	if waiting := g.Pending + max(0, g.Lag); waiting > 0 && live == 0 {
		r.attention("%d plan(s) waiting (pending %d, lag %d) and no apply-layer consumer active in the last %s", waiting, g.Pending, g.Lag, LiveConsumerIdle)
	}
	if backlog := g.Pending + max(0, g.Lag); backlog > BacklogLimit {
		r.attention("apply-layer backlog %d plans (pending %d, lag %d) over %d", backlog, g.Pending, g.Lag, BacklogLimit)
	}
	return nil
}

func readResults(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	res := &r.Results
	res.WindowSec = int64(opt.Window / time.Second)
	res.ByDecision, res.Denials = map[string]int64{}, map[string]int64{}
	res.Authenticated = opt.ResultKey != nil
	defer func() {
		if res.Forged > 0 {
			r.attention("%d result(s) in the window whose result_mac does not verify (RESULT_FORGED): written by a Redis user other than the apply layer's", res.Forged)
		}
	}()
	start := strconv.FormatInt(now.Add(-opt.Window).UnixMilli(), 10)
	stream := opt.Keys.ApplyResult()
	for {
		msgs, err := rdb.XRangeN(ctx, stream, start, "+", 1000).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		for _, m := range msgs {
			res.Total++
			if opt.ResultKey != nil && !plan.VerifyResult(m.Values, opt.ResultKey) {
				res.Forged++
				continue
			}
			r := plan.ParseResult(m.Values)
			res.ByDecision[cmpOrS(string(r.Decision), "?")]++
			if r.Decision == plan.Denied {
				res.Denials[cmpOrS(string(r.Reason), "?")]++
			}
		}
		if len(msgs) < 1000 {
			return nil
		}
		if res.Total >= resultScanLimit {
			res.Truncated = true
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func cmpOrS(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

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

// countAfter counts the stream's entries after id, up to limit: the
// group's lag, computed from the stream itself. XINFO GROUPS's lag is
// Redis 7's estimate, absent on older servers and wrong on miniredis
// (quantum dev), so it is not read.
func countAfter(ctx context.Context, rdb redis.Cmdable, stream, id string, limit int64) (int64, error) {
	start := "-"
	if id != "" && id != "0-0" {
		start = "(" + id
	}
	msgs, err := rdb.XRangeN(ctx, stream, start, "+", limit).Result()
	if err != nil {
		return 0, fmt.Errorf("XRANGE %s: %w", stream, err)
	}
	return int64(len(msgs)), nil
}

func strFields(v map[string]any) map[string]string {
	out := make(map[string]string, len(v))
	for k, x := range v {
		out[k] = fmt.Sprint(x)
	}
	return out
}
