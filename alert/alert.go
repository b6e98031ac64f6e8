// Package alert publishes alerts to <prefix>:stream:alerts with the fields
// of SPEC.md and deduplicates them the way Alertmanager users expect.
//
// An alert has an identity: its type and labels. Their fingerprint names one
// dedupe state under the prefix (keys.Space.AlertIncident). While the
// condition holds, callers call Fire on every run; while it is cleared, they
// call Resolve. What reaches the stream:
//
//   - the first Fire of an incident publishes status=firing with a new
//     alert_id, fingerprint-N (N counts the identity's incidents, so the id is
//     deterministic and every process sharing the Redis agrees on it);
//   - later Fires publish nothing (Held) until the repeat interval has passed
//     since the last notification, then re-notify with the same alert_id;
//   - the first Resolve after a firing publishes one status=resolved with that
//     alert_id; further Resolves publish nothing (Clear);
//   - a Fire after a resolution starts a new incident with a new alert_id.
//
// The decision and the XADD are one Lua script, so two runs racing (a timer
// and a follow mode, two hosts) cannot both publish. A Redis failure is
// returned as an error, never reported as Held or Clear. The clock is
// injected; Redis's own clock is never read.
package alert

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// Alert types of SPEC.md. Keep the names exactly.
const (
	TypeExitOwnerViolation  = "EXIT_OWNER_VIOLATION"
	TypePolicyRefreshFailed = "POLICY_REFRESH_FAILED"
	TypePolicyExpiring      = "POLICY_EXPIRING"
	TypeClockSkew           = "CLOCK_SKEW"
)

// Severities, from least to most urgent.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Status values of the status field.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// CountOccurrences as Alert.Count makes deny_count the number of runs that
// have found the condition during the incident, for alerts raised by a
// condition rather than by counted events (a failing refresh, an expiring
// policy).
const CountOccurrences int64 = -1

// DefaultMaxLen bounds the alert stream (approximate MAXLEN).
const DefaultMaxLen = 10000

// Alert is what a caller reports. Type and Labels are its identity; the rest
// describes this occurrence and may change from run to run.
type Alert struct {
	Type     string            // alert_type, such as POLICY_REFRESH_FAILED
	Labels   map[string]string // identity beyond the type; nil for one incident per type
	Severity string            // info, warning or critical
	Count    int64             // deny_count: events in the window, or CountOccurrences
	Window   time.Duration     // the window the count covers, written as "5min"
	Details  map[string]string // extra fields: sources, symbols, first_plan_id, reason, ...
}

// Outcome says what a Fire or Resolve did.
type Outcome string

// Outcomes. Fired, Renotified and Resolved published an entry; Held and
// Clear published nothing, by decision of the dedupe state (never because
// of an error: errors are returned as errors).
const (
	Fired      Outcome = "fired"      // a new incident: firing published
	Renotified Outcome = "renotified" // still firing, repeat interval passed: firing published again
	Held       Outcome = "held"       // still firing, inside the repeat interval: nothing published
	Resolved   Outcome = "resolved"   // was firing: resolved published
	Clear      Outcome = "clear"      // nothing was firing: nothing published
)

// Result is what Fire or Resolve did.
type Result struct {
	Outcome Outcome
	AlertID string    // the incident's alert_id ("" for Clear)
	EntryID string    // the stream entry published, "" when none
	Next    time.Time // for Held: when a re-notification becomes due
}

// Published reports whether an entry was added to the stream.
func (r Result) Published() bool { return r.EntryID != "" }

// Options configures a Publisher. Keys and Now are required.
type Options struct {
	Keys   keys.Space
	Now    func() time.Time
	MaxLen int64 // 0 means DefaultMaxLen
}

// Publisher publishes deduplicated alerts under one key prefix. It is safe
// for concurrent use.
type Publisher struct {
	rdb redis.Scripter
	opt Options
}

// New returns a Publisher over rdb.
func New(rdb redis.Scripter, opt Options) (*Publisher, error) {
	if rdb == nil {
		return nil, errors.New("alert: nil redis client")
	}
	if opt.Keys.Prefix() == "" {
		return nil, errors.New("alert: no key prefix")
	}
	if opt.Now == nil {
		return nil, errors.New("alert: no clock")
	}
	if opt.MaxLen <= 0 {
		opt.MaxLen = DefaultMaxLen
	}
	return &Publisher{rdb: rdb, opt: opt}, nil
}

//go:embed notify.lua
var notifyLua string

var notifyScript = redis.NewScript(notifyLua)

// Fire reports that a's condition holds now. It publishes a firing alert
// for a new incident, or re-notifies when repeat has passed since the last
// notification; otherwise it holds. repeat is counted in whole seconds, at
// least one.
func (p *Publisher) Fire(ctx context.Context, a Alert, repeat time.Duration) (Result, error) {
	if repeat < time.Second {
		return Result{}, fmt.Errorf("alert %s: repeat interval %s: want at least 1s", a.Type, repeat)
	}
	return p.run(ctx, "fire", a, repeat)
}

// Resolve reports that a's condition is cleared now. It publishes one
// resolved alert when an incident of a's identity is firing, else nothing.
// The resolved entry reports deny_count 0 and a's current details.
func (p *Publisher) Resolve(ctx context.Context, a Alert) (Result, error) {
	return p.run(ctx, "resolve", a, 0)
}

// reserved are the fields the script writes; details may not use them.
var reserved = map[string]bool{
	"alert_type": true, "status": true, "severity": true, "alert_id": true, "deny_count": true,
	"window": true, "timestamp": true, "started_at": true, "occurrences": true,
}

var typeRE = regexp.MustCompile(`^[A-Z]+(_[A-Z]+)*$`)

func (a Alert) check() error {
	if !typeRE.MatchString(a.Type) {
		return fmt.Errorf("alert type %q: want UPPER_SNAKE_CASE", a.Type)
	}
	switch a.Severity {
	case SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		return fmt.Errorf("alert %s: severity %q: want info, warning or critical", a.Type, a.Severity)
	}
	if a.Count < 0 && a.Count != CountOccurrences {
		return fmt.Errorf("alert %s: deny_count %d: want >= 0 or CountOccurrences", a.Type, a.Count)
	}
	if a.Window <= 0 {
		return fmt.Errorf("alert %s: window %s: want > 0", a.Type, a.Window)
	}
	for k := range a.Details {
		if k == "" || reserved[k] {
			return fmt.Errorf("alert %s: detail field %q is empty or reserved", a.Type, k)
		}
	}
	return nil
}

func (p *Publisher) run(ctx context.Context, mode string, a Alert, repeat time.Duration) (Result, error) {
	if err := a.check(); err != nil {
		return Result{}, err
	}
	fp := Fingerprint(a.Type, a.Labels)
	now := p.opt.Now()
	count := ""
	if a.Count != CountOccurrences {
		count = strconv.FormatInt(a.Count, 10)
	}
	argv := []any{mode, now.Unix(), int64(repeat / time.Second), fp, p.opt.MaxLen, count,
		a.Type, a.Severity, FormatWindow(a.Window)}
	for _, k := range slices.Sorted(maps.Keys(a.Details)) {
		argv = append(argv, k, a.Details[k])
	}
	res, err := notifyScript.Run(ctx, p.rdb, []string{p.opt.Keys.AlertIncident(fp), p.opt.Keys.Alerts()}, argv...).StringSlice()
	if err != nil {
		return Result{}, fmt.Errorf("alert %s %s: redis: %w", a.Type, mode, err)
	}
	if len(res) != 3 {
		return Result{}, fmt.Errorf("alert %s %s: unexpected script reply %q", a.Type, mode, res)
	}
	r := Result{Outcome: Outcome(res[0]), AlertID: res[1]}
	switch r.Outcome {
	case Fired, Renotified, Resolved:
		r.EntryID = res[2]
	case Held:
		last, err := strconv.ParseInt(res[2], 10, 64)
		if err != nil {
			return Result{}, fmt.Errorf("alert %s: dedupe state has last_notified_at %q: %w", a.Type, res[2], err)
		}
		r.Next = time.Unix(last, 0).Add(repeat)
	case Clear:
	default:
		return Result{}, fmt.Errorf("alert %s %s: unexpected script reply %q", a.Type, mode, res)
	}
	return r, nil
}

// LogResult logs what a Fire or Resolve did, for a job that raises alerts
// beside its main work: an error at error level, a publish or a hold at
// warn level (someone should be looking), nothing for Clear. tag starts the
// message, such as "[POLICY-REFRESH]".
func LogResult(log *slog.Logger, tag, alertType string, r Result, err error) {
	switch {
	case err != nil:
		log.Error(tag+" could not raise or clear an alert", "alert_type", alertType, "error", err)
	case r.Published():
		log.Warn(tag+" alert published", "alert_type", alertType, "outcome", string(r.Outcome), "alert_id", r.AlertID, "entry_id", r.EntryID)
	case r.Outcome == Held:
		log.Warn(tag+" alert still firing, held by the repeat interval", "alert_type", alertType,
			"alert_id", r.AlertID, "next_notification", r.Next.UTC().Format(time.RFC3339))
	}
}

// Fingerprint is the identity of an alert: the first 16 hex digits of the
// SHA-256 of its type and its labels in byte order, each as a
// length-prefixed record. The same type and labels give the same
// fingerprint in every process and release.
func Fingerprint(alertType string, labels map[string]string) string {
	h := sha256.New()
	record := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	record(alertType)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		record(k)
		record(labels[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// FormatWindow writes a window as SPEC.md does: whole minutes as "5min",
// anything else in whole seconds as "90s".
func FormatWindow(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dmin", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
