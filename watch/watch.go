// Package watch is the exit-owner watch: it counts the apply layer's
// ownership denials (results with reason DENY_NOT_EXIT_OWNER on
// <prefix>:stream:apply.result) inside a time window and raises
// EXIT_OWNER_VIOLATION on <prefix>:stream:alerts through package alert.
//
// What is counted. Every apply-layer replica writes its results to the same
// stream, so one read sees the denials of all of them (the system we
// replace grepped one unit's journal). The window is a range of stream ids:
// an entry id is the Redis time it was written, in milliseconds, so the
// window [now-window, now] is XRANGE <now-window in ms> +, read in pages,
// never a scan of the whole stream. An entry exactly window old is counted;
// one millisecond older is not. The upper bound is "+", not now: an entry
// stamped after now (Redis's clock a little ahead of ours) is as recent as
// it gets and is counted. A result counts as a denial when its reason (or,
// for older writers, its error field) is DENY_NOT_EXIT_OWNER. A denial
// with canary=true from the proof source (a proof's canary plan) is counted
// apart and never alerts; any other canary value, "True" or "1" included,
// and a canary of any other source, is a real denial: only the exact value
// the apply layer writes, for the one source allowed to send canaries, is
// believed.
//
// What is raised. A run that finds denials calls alert.Fire with the count,
// the window, the distinct sources and symbols, and the plan ids of the
// oldest and newest denial; a run that finds the window clean calls
// alert.Resolve. The incident identity is the alert type alone (no labels),
// so alert_id is deterministic (alert.Fingerprint(EXIT_OWNER_VIOLATION,
// nil)-N) and every process sharing the Redis and prefix shares one dedupe
// state: one firing per incident, re-notified at most every repeat
// interval, one resolved when a later check finds the window clean. The
// alert is critical: the gate held, but a service tried to exit a position
// it does not own, which is a bug or an attack either way.
//
// Two ways to run, sharing that state so both can run at once: Run checks
// once (the systemd timer, `quantum exit-owner watch`; Loop for `quantum
// dev`); Follow tails the stream with a blocking read and raises the alert
// as soon as a denial is written, rescanning the whole window every
// interval to re-notify and resolve.
//
// Every run records a heartbeat under the prefix (keys.Space.Heartbeat):
// when it ran, its outcome and, for a failed run, why, so a dead watch is
// visible. A failure (Redis down, a permission missing, the alert not
// published) is returned as an error, never reported as clean or held. The
// clock is injected.
package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/streamid"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

// Tag starts every log line of the watch (SPEC.md: operators grep it).
const Tag = "[EXIT-OWNER-WATCH]"

// Defaults.
const (
	DefaultWindow         = 5 * time.Minute
	DefaultRepeatInterval = time.Hour
	// DefaultInterval is how often the timer runs the watch, and how often
	// Follow rescans the whole window.
	DefaultInterval = 5 * time.Minute
	// DefaultBlock is how long one blocking read of Follow waits before it
	// looks at its context and its rescan deadline again. Never 0: go-redis
	// would block forever.
	DefaultBlock    = time.Second
	DefaultPageSize = 1000
	// MaxListed bounds the sources and symbols an alert lists; the rest is
	// summarised as "+N more".
	MaxListed = 20
)

// Heartbeat job names (keys.Space.Heartbeat): one per way of running, so a
// dead follower is not hidden by a live timer, or the reverse.
const (
	JobTimer  = keys.JobWatchTimer
	JobFollow = keys.JobWatchFollow
)

// Outcomes recorded in the heartbeat.
const (
	OutcomeClean   = "clean"
	OutcomeDenials = "denials"
	OutcomeError   = "error"
)

// Redis is what the watch needs of a client (*redis.Client). Follow needs a
// client whose blocking reads honour the context.
type Redis interface {
	XRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
	XRead(ctx context.Context, a *redis.XReadArgs) *redis.XStreamSliceCmd
	Exists(ctx context.Context, keys ...string) *redis.IntCmd
	HSet(ctx context.Context, key string, values ...any) *redis.IntCmd
}

// Alerter raises and clears deduplicated alerts (*alert.Publisher).
type Alerter interface {
	Fire(ctx context.Context, a alert.Alert, repeat time.Duration) (alert.Result, error)
	Resolve(ctx context.Context, a alert.Alert) (alert.Result, error)
}

// Config configures a Watcher. Redis, Alerts, Keys and Now are required;
// zero durations and sizes take the defaults above.
type Config struct {
	Redis  Redis
	Alerts Alerter
	Keys   keys.Space
	Log    *slog.Logger // nil discards
	Now    func() time.Time

	Window         time.Duration // denials counted: ids from now-Window on
	RepeatInterval time.Duration // re-notification of a still-firing incident (at least 1s)
	Interval       time.Duration // how often runs happen (recorded in the heartbeat); Follow's rescan period
	Block          time.Duration // Follow: longest wait of one blocking read
	PageSize       int64         // entries per XRANGE / XREAD
	// ProofSource is the only source whose canary denials are counted
	// apart (gate.DefaultProofSource when ""): a canary=true result of any
	// other source is a real denial, since the apply layer refuses such
	// canaries and a hostile producer could mark its plans canary to hide.
	ProofSource string
	// ResultKey, when set, authenticates results (plan.VerifyResult): an
	// entry whose result_mac does not verify is not counted, and raises
	// RESULT_FORGED instead (a forged denial must not page against the
	// exit owner, nor a forged success hide one).
	ResultKey []byte
}

// Watcher counts ownership denials and raises the alert. It is safe for
// concurrent use; Run and Follow may run at once.
type Watcher struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns a Watcher.
func New(cfg Config) (*Watcher, error) {
	switch {
	case cfg.Redis == nil, cfg.Alerts == nil, cfg.Now == nil:
		return nil, errors.New("watch: Redis, Alerts and Now are required")
	case cfg.Keys.Prefix() == "":
		return nil, errors.New("watch: no key prefix")
	case cfg.Window < 0, cfg.RepeatInterval < 0, cfg.Interval < 0, cfg.Block < 0, cfg.PageSize < 0:
		return nil, errors.New("watch: durations and the page size must not be negative")
	}
	cfg.Window = cmp.Or(cfg.Window, DefaultWindow)
	cfg.RepeatInterval = cmp.Or(cfg.RepeatInterval, DefaultRepeatInterval)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.Block = cmp.Or(cfg.Block, DefaultBlock)
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.ProofSource = cmp.Or(cfg.ProofSource, gate.DefaultProofSource)
	switch {
	case cfg.Window < time.Second:
		return nil, fmt.Errorf("watch: window %s: want at least 1s", cfg.Window)
	case cfg.RepeatInterval < time.Second:
		return nil, fmt.Errorf("watch: repeat interval %s: want at least 1s", cfg.RepeatInterval)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, log: log}, nil
}

// Report is what one check found and did.
type Report struct {
	Checked       time.Time     // the check's now
	Window        time.Duration // the window counted
	Since         string        // the first stream id inside the window
	Scanned       int64         // results read in the window (Run only)
	Denials       int64         // DENY_NOT_EXIT_OWNER results, canaries excluded
	CanaryDenials int64         // canary denials: counted apart, never alerted
	Sources       []string      // distinct sources of the denials, sorted
	Symbols       []string      // distinct symbols of the denials, sorted
	FirstPlanID   string        // plan_id of the oldest denial in the window
	LastPlanID    string        // plan_id of the newest denial in the window
	StreamMissing bool          // the result stream does not exist under this prefix
	Forged        int64         // results whose result_mac did not verify (with Config.ResultKey)
	FirstForgedID string        // the stream id of the oldest forged result in the window
	Alert         alert.Result  // what the alert did: fired, renotified, held, resolved, clear
}

// Outcome is the heartbeat's word for a report that came with no error.
func (r *Report) Outcome() string {
	if r.Denials > 0 {
		return OutcomeDenials
	}
	return OutcomeClean
}

// Run checks the window once: read, count, raise or resolve the alert,
// record the heartbeat of JobTimer. The report says what was found even
// when an error is returned (a count may have succeeded before the alert
// failed). A run interrupted by its context records no heartbeat.
func (w *Watcher) Run(ctx context.Context) (*Report, error) {
	rep, _, err := w.check(ctx, JobTimer, w.cfg.Now())
	return rep, err
}

// check is one full run: scan the window, then decide. It returns the
// tally, for Follow to continue from.
func (w *Watcher) check(ctx context.Context, job string, now time.Time) (*Report, *tally, error) {
	t, err := w.scan(ctx, now)
	if err != nil {
		rep := &Report{Checked: now, Window: w.cfg.Window, Since: t.since.String()}
		err = fmt.Errorf("could not read %s: %w", w.cfg.Keys.ApplyResult(), err)
		w.recordFailure(ctx, job, rep, err, false)
		return rep, nil, err
	}
	rep := t.report(now, w.cfg.Window)
	if rep.Scanned == 0 {
		n, err := w.cfg.Redis.Exists(ctx, w.cfg.Keys.ApplyResult()).Result()
		if err != nil {
			err = fmt.Errorf("could not check that %s exists: %w", w.cfg.Keys.ApplyResult(), err)
			w.recordFailure(ctx, job, rep, err, false)
			return rep, nil, err
		}
		rep.StreamMissing = n == 0
	}
	return rep, t, w.decide(ctx, job, rep)
}

// scan reads the window page by page. The returned tally is never nil.
func (w *Watcher) scan(ctx context.Context, now time.Time) (*tally, error) {
	t := newTally(cutoff(now, w.cfg.Window), w.cfg.ProofSource)
	t.key = w.cfg.ResultKey
	stream := w.cfg.Keys.ApplyResult()
	start := t.since.String()
	for {
		msgs, err := w.cfg.Redis.XRangeN(ctx, stream, start, "+", w.cfg.PageSize).Result()
		if err != nil {
			return t, err
		}
		for _, m := range msgs {
			if _, err := t.add(m); err != nil {
				return t, err
			}
		}
		if int64(len(msgs)) < w.cfg.PageSize {
			return t, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// decide logs what rep found, raises or resolves the alert, and records the
// heartbeat. An alert or heartbeat failure is the run's error.
func (w *Watcher) decide(ctx context.Context, job string, rep *Report) error {
	w.logFindings(job, rep)
	a := alert.Alert{
		Type: alert.TypeExitOwnerViolation, Severity: alert.SeverityCritical,
		Count: rep.Denials, Window: rep.Window,
	}
	var err error
	if rep.Denials > 0 {
		a.Details = map[string]string{
			"sources": list(rep.Sources), "symbols": list(rep.Symbols),
			"first_plan_id": rep.FirstPlanID, "last_plan_id": rep.LastPlanID,
		}
		rep.Alert, err = w.cfg.Alerts.Fire(ctx, a, w.cfg.RepeatInterval)
	} else {
		rep.Alert, err = w.cfg.Alerts.Resolve(ctx, a)
	}
	alert.LogResult(w.log, Tag, alert.TypeExitOwnerViolation, rep.Alert, err)
	if ferr := w.forgedAlert(ctx, rep); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		if rep.Denials > 0 {
			err = fmt.Errorf("%d DENY_NOT_EXIT_OWNER found, but the alert could not be raised: %w", rep.Denials, err)
		} else {
			err = fmt.Errorf("the window is clean, but a firing alert could not be resolved: %w", err)
		}
		w.recordFailure(ctx, job, rep, err, true)
		return err
	}
	if err := w.heartbeat(ctx, job, rep, nil, true); err != nil {
		err = fmt.Errorf("could not record the heartbeat %s: %w", w.cfg.Keys.Heartbeat(job), err)
		w.log.Error(Tag+" run not recorded", "error", err)
		return err
	}
	return nil
}

// TypeResultForged is the alert of results whose MAC does not verify.
const TypeResultForged = "RESULT_FORGED"

// forgedAlert raises RESULT_FORGED while the window holds forged results
// and resolves it once it holds none (only with a result key).
func (w *Watcher) forgedAlert(ctx context.Context, rep *Report) error {
	if w.cfg.ResultKey == nil {
		return nil
	}
	a := alert.Alert{Type: TypeResultForged, Severity: alert.SeverityCritical, Count: rep.Forged, Window: rep.Window}
	var res alert.Result
	var err error
	if rep.Forged > 0 {
		w.log.Error(Tag+" "+TypeResultForged+": results on "+w.cfg.Keys.ApplyResult()+" whose result_mac does not verify: not counted",
			"forged", rep.Forged, "first_entry", rep.FirstForgedID)
		a.Details = map[string]string{"first_entry_id": rep.FirstForgedID, "stream": w.cfg.Keys.ApplyResult()}
		res, err = w.cfg.Alerts.Fire(ctx, a, w.cfg.RepeatInterval)
	} else {
		res, err = w.cfg.Alerts.Resolve(ctx, a)
	}
	alert.LogResult(w.log, Tag, TypeResultForged, res, err)
	return err
}

func (w *Watcher) logFindings(job string, rep *Report) {
	window := alert.FormatWindow(rep.Window)
	if rep.StreamMissing {
		w.log.Warn(Tag+" no result stream under this prefix: nothing to count (is the prefix right? has the apply layer written a result yet?)",
			"stream", w.cfg.Keys.ApplyResult())
	}
	if rep.Denials > 0 {
		w.log.Warn(Tag+" "+string(reason.DenyNotExitOwner)+" in the window", "job", job,
			"deny_count", rep.Denials, "window", window, "sources", list(rep.Sources), "symbols", list(rep.Symbols),
			"first_plan_id", rep.FirstPlanID, "last_plan_id", rep.LastPlanID, "canary_deny_count", rep.CanaryDenials)
		return
	}
	w.log.Info(Tag+" clean: no "+string(reason.DenyNotExitOwner)+" in the window", "job", job,
		"window", window, "scanned", rep.Scanned, "canary_deny_count", rep.CanaryDenials)
}

// recordFailure logs err and records it in the heartbeat, best effort: Redis
// may be the reason for the failure. counted says whether rep's counts are
// real (the read succeeded).
func (w *Watcher) recordFailure(ctx context.Context, job string, rep *Report, err error, counted bool) {
	if ctx.Err() != nil {
		w.log.Warn(Tag+" run interrupted: not recorded", "job", job, "error", err)
		return
	}
	w.log.Error(Tag+" check failed", "job", job, "error", err)
	if herr := w.heartbeat(ctx, job, rep, err, counted); herr != nil {
		w.log.Debug(Tag+" could not record the failure in the heartbeat", "error", herr)
	}
}

// heartbeat writes the job's last run. last_ok_at moves only on a run
// without error; the counts are blank when the read failed.
func (w *Watcher) heartbeat(ctx context.Context, job string, rep *Report, runErr error, counted bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := strconv.FormatInt(rep.Checked.Unix(), 10)
	outcome, errText, denials, canaries := rep.Outcome(), "", "", ""
	if counted {
		denials, canaries = strconv.FormatInt(rep.Denials, 10), strconv.FormatInt(rep.CanaryDenials, 10)
	}
	if runErr != nil {
		outcome, errText = OutcomeError, runErr.Error()
	}
	f := []any{
		"last_run_at", now, "outcome", outcome, "error", errText,
		"deny_count", denials, "canary_deny_count", canaries,
		"window", alert.FormatWindow(rep.Window), "interval_sec", strconv.FormatInt(int64(w.cfg.Interval/time.Second), 10),
		"alert", string(rep.Alert.Outcome), "alert_id", rep.Alert.AlertID,
	}
	if runErr == nil {
		f = append(f, "last_ok_at", now)
	}
	return w.cfg.Redis.HSet(ctx, w.cfg.Keys.Heartbeat(job), f...).Err()
}

// list writes a sorted set of names for an alert field, at most MaxListed.
func list(names []string) string {
	if len(names) <= MaxListed {
		return strings.Join(names, ",")
	}
	return strings.Join(names[:MaxListed], ",") + fmt.Sprintf(",+%d more", len(names)-MaxListed)
}

// cutoff is the first stream id inside the window ending at now.
func cutoff(now time.Time, window time.Duration) streamid.ID {
	ms := now.UnixMilli() - window.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	return streamid.ID{MS: uint64(ms)}
}

// denial is one counted DENY_NOT_EXIT_OWNER result.
type denial struct {
	id                     streamid.ID
	planID, source, symbol string
}

// tally holds the denials read so far, oldest first, and where the reading
// stands.
type tally struct {
	proof   string        // the proof source: its canaries are counted apart
	key     []byte        // the result key; nil: results are not authenticated
	forged  []streamid.ID // results whose MAC does not verify, in id order
	since   streamid.ID   // the window's first id
	last    streamid.ID   // the newest id read: Follow's XREAD cursor
	scanned int64         // results read by the scan
	denials []denial      // non-canary denials, in id order
	canary  []streamid.ID // canary denials, in id order
}

func newTally(since streamid.ID, proofSource string) *tally {
	t := &tally{since: since, proof: proofSource}
	// Before any entry is read, the cursor stands just before the window,
	// so that a follower's first XREAD returns the window's first entry.
	if since.MS > 0 {
		t.last = streamid.ID{MS: since.MS - 1, Seq: ^uint64(0)}
	}
	return t
}

// add counts one result; it reports whether it was a real (non-canary)
// denial.
func (t *tally) add(m redis.XMessage) (bool, error) {
	id, err := streamid.Parse(m.ID)
	if err != nil {
		return false, err
	}
	if t.last.Less(id) {
		t.last = id
	}
	t.scanned++
	if t.key != nil && !plan.VerifyResult(m.Values, t.key) {
		t.forged = append(t.forged, id)
		return false, nil
	}
	r := plan.ParseResult(m.Values)
	if !r.DeniedFor(reason.DenyNotExitOwner) {
		return false, nil
	}
	if r.Canary && r.Source == t.proof {
		t.canary = append(t.canary, id)
		return false, nil
	}
	t.denials = append(t.denials, denial{id: id, planID: r.PlanID, source: r.Source, symbol: r.Symbol})
	return true, nil
}

// prune drops the denials older than since, for Follow's moving window.
func (t *tally) prune(since streamid.ID) {
	t.since = since
	i := sort.Search(len(t.denials), func(i int) bool { return !t.denials[i].id.Less(since) })
	t.denials = t.denials[i:]
	j := sort.Search(len(t.canary), func(j int) bool { return !t.canary[j].Less(since) })
	t.canary = t.canary[j:]
	k := sort.Search(len(t.forged), func(k int) bool { return !t.forged[k].Less(since) })
	t.forged = t.forged[k:]
}

func (t *tally) report(now time.Time, window time.Duration) *Report {
	r := &Report{
		Checked: now, Window: window, Since: t.since.String(), Scanned: t.scanned,
		Denials: int64(len(t.denials)), CanaryDenials: int64(len(t.canary)), Forged: int64(len(t.forged)),
	}
	if len(t.forged) > 0 {
		r.FirstForgedID = t.forged[0].String()
	}
	if len(t.denials) == 0 {
		return r
	}
	r.FirstPlanID, r.LastPlanID = t.denials[0].planID, t.denials[len(t.denials)-1].planID
	sources, symbols := map[string]bool{}, map[string]bool{}
	for _, d := range t.denials {
		sources[d.source] = true
		symbols[d.symbol] = true
	}
	r.Sources, r.Symbols = slices.Sorted(maps.Keys(sources)), slices.Sorted(maps.Keys(symbols))
	return r
}
