// Package refresh keeps the live trading policy fresh: one run builds the
// next policy from a template or a generator, stamps, signs and validates it
// with the readers' validator, and publishes it atomically; a refused run
// leaves the live policy untouched and says why in the audit trail and on the
// alert stream.
//
// The same Run serves the systemd timer (`quantum policy refresh`, one run
// per process) and the in-process ticker of `quantum dev` (Loop).
//
// One run, in order:
//
//  1. read the live policy (verified, for the expiry alarm) and its
//     policy_seq; the new policy gets seq+1, fixed before the source runs,
//     so that a policy published by anyone else meanwhile (an operator's
//     HALTED policy, another refresh) makes this run refuse with
//     POLICY_ROLLBACK instead of overwriting it;
//  2. refuse a validity shorter than interval + Margin;
//  3. load the signing key, then get the content from the Source;
//  4. stamp issued_at_epoch = now, valid_until_epoch = now + validity
//     (a valid_until_epoch in the content is ignored, with a warning: the
//     refresh owns the expiry), generator; validate (policy.Validate, as
//     every reader does), check the leverage cap, sign, and publish through
//     policystore, which re-verifies exactly as readers will and writes the
//     policy, its update event and its audit entry in one Lua script.
//
// On success: log POLICY_STATE and POLICY_AUDIT lines, resolve a firing
// POLICY_REFRESH_FAILED. On refusal: an audit entry with result=rejected,
// the reason code and the explanation, and a POLICY_REFRESH_FAILED alert
// (deduplicated: package alert). Either way, the expiry alarm then looks at
// what is live (ExpiryAlarm).
//
// Two checks guard against what the process cannot see itself (issue 16):
// with Config.RedisClock, this clock is compared with Redis TIME before the
// source runs (a policy stamped by a clock far behind would be stale within
// the interval by the readers' clocks: refused, REFRESH_CLOCK_SKEW, alert
// CLOCK_SKEW); with Config.Runs, every run is recorded while it runs, and
// the next run writes an audit entry result=interrupted for one that was
// killed (or stopped by its context) before it finished.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// tag starts every log line of the refresh (SPEC.md: operators grep it).
const tag = "[POLICY-REFRESH]"

// Defaults and the freshness margin.
const (
	DefaultValidity       = 2 * time.Hour
	DefaultInterval       = 30 * time.Minute
	DefaultExpiryAlarm    = 45 * time.Minute
	DefaultRepeatInterval = time.Hour

	// FreshnessFloor is the operators' criterion (SPEC.md): the live policy
	// stays valid for more than this at every instant.
	FreshnessFloor = 30 * time.Minute
	// TimerSlack covers a timer firing late (AccuracySec=1min), a slow run
	// and a late start after a reboot or a daemon-reload.
	TimerSlack = 5 * time.Minute
	// Margin is how much longer than the interval a policy must stay valid:
	// just before the next run, valid_until - now = validity - interval,
	// which must stay above the floor even when that run starts late.
	Margin = FreshnessFloor + TimerSlack
)

// Alerter raises and clears deduplicated alerts (*alert.Publisher).
type Alerter interface {
	Fire(ctx context.Context, a alert.Alert, repeat time.Duration) (alert.Result, error)
	Resolve(ctx context.Context, a alert.Alert) (alert.Result, error)
}

// Config configures a Refresher. Store, Alerts, Source, Key and Now are
// required; zero durations take the defaults above.
type Config struct {
	Store  *policystore.Store
	Alerts Alerter
	Source Source
	// Key returns the signing key. It is called on every run, so that a
	// replaced or broken key file is noticed (and refused, audited and
	// alerted) by the next run rather than at the next restart.
	Key func() (*policy.PrivateKey, error)
	Log *slog.Logger // nil discards
	Now func() time.Time

	Validity       time.Duration // valid_until = now + Validity
	Interval       time.Duration // how often a run happens (the timer's OnUnitActiveSec)
	MaxLeverage    int           // cap on every leverage; 0 means policy.MaxLeverage only
	ExpiryAlarm    time.Duration // POLICY_EXPIRING below this remaining validity
	NoExpiryAlarm  bool          // disables the expiry alarm
	RepeatInterval time.Duration // re-notification of a still-firing alert
	Actor          string        // who publishes, for the audit trail

	// RedisClock, when set, is checked before the source runs (checkClock):
	// a clock too far from Redis TIME refuses the run (REFRESH_CLOCK_SKEW)
	// and an offset above ClockAlarm raises CLOCK_SKEW. Nil: not checked.
	RedisClock ClockFunc
	ClockAlarm time.Duration // 0 means DefaultClockAlarm
	// Runs, when set, records each run while it runs; a run found killed
	// is written to the audit trail with result=interrupted by the next.
	Runs Runs
}

// Refresher runs refreshes. It is safe for concurrent use, though two
// concurrent runs race for the same seq and one of them is refused.
type Refresher struct {
	cfg    Config
	log    *slog.Logger
	expiry ExpiryAlarm
}

// New checks cfg and returns a Refresher.
func New(cfg Config) (*Refresher, error) {
	switch {
	case cfg.Store == nil, cfg.Alerts == nil, cfg.Source == nil, cfg.Key == nil, cfg.Now == nil:
		return nil, errors.New("refresh: Store, Alerts, Source, Key and Now are required")
	case cfg.Validity < 0, cfg.Interval < 0, cfg.ExpiryAlarm < 0, cfg.RepeatInterval < 0, cfg.ClockAlarm < 0:
		return nil, errors.New("refresh: durations must not be negative")
	case cfg.MaxLeverage < 0 || cfg.MaxLeverage > policy.MaxLeverage:
		return nil, fmt.Errorf("refresh: max leverage %d: want 1..%d, or 0 for no cap of our own", cfg.MaxLeverage, policy.MaxLeverage)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Validity, DefaultValidity)
	def(&cfg.Interval, DefaultInterval)
	def(&cfg.ExpiryAlarm, DefaultExpiryAlarm)
	def(&cfg.RepeatInterval, DefaultRepeatInterval)
	def(&cfg.ClockAlarm, DefaultClockAlarm)
	if strings.TrimSpace(cfg.Actor) == "" {
		cfg.Actor = "quantum policy refresh"
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	threshold := cfg.ExpiryAlarm
	if cfg.NoExpiryAlarm {
		threshold = 0
	}
	return &Refresher{cfg: cfg, log: log, expiry: ExpiryAlarm{Alerts: cfg.Alerts, Threshold: threshold, Repeat: cfg.RepeatInterval}}, nil
}

// GeneratorLabel is the generator field stamped on a policy whose content
// names none.
const GeneratorLabel = "quantum policy refresh"

// Report is what a run did.
type Report struct {
	Policy    *policy.Signed         // the published policy; nil when refused
	Published *policystore.Published // its update and audit entry ids
	Code      reason.Code            // the refusal's reason code; "" when published
	AuditID   string                 // the audit entry written (published or rejected)
	Alert     alert.Result           // POLICY_REFRESH_FAILED: fired, held, resolved, clear...
	Expiry    alert.Result           // POLICY_EXPIRING; zero when not checked
}

// Run refreshes once. It returns an error, with a reason code, exactly
// when nothing was published; the live policy is then untouched. Errors of
// the bookkeeping (audit entry, alerts) are joined to the returned error on
// a refusal and logged after a publish, which stays a success.
func (r *Refresher) Run(ctx context.Context) (*Report, error) {
	live, liveErr := r.cfg.Store.Load(ctx)
	att := attempt{}
	if reason.CodeOf(liveErr) == reason.PolicyUnavailable {
		return r.refuse(ctx, att, liveErr, nil, liveErr)
	}
	if r.cfg.Runs != nil {
		id, interrupted, err := r.cfg.Runs.Begin(ctx, r.cfg.Now())
		if err != nil {
			return r.refuse(ctx, att, reason.Errorf(reason.PolicyUnavailable, "%w", err), live, liveErr)
		}
		r.auditInterrupted(ctx, interrupted)
		defer func() {
			// A run stopped by its context keeps its record: the next run
			// audits it as interrupted, as it would a killed one.
			if ctx.Err() == nil {
				if err := r.cfg.Runs.End(ctx, id); err != nil {
					r.log.Error(tag+" could not clear this run's record: the next run will audit it as interrupted", "error", err)
				}
			}
		}()
	}
	liveSeq, _, err := r.cfg.Store.LiveSeq(ctx)
	if err != nil {
		return r.refuse(ctx, att, err, live, liveErr)
	}
	att.seq = liveSeq + 1
	if least := r.cfg.Interval + Margin; r.cfg.Validity < least {
		return r.refuse(ctx, att, reason.Errorf(reason.RefreshValidityTooShort,
			"validity %s is shorter than interval %s + margin %s = %s: the policy would drop below %s of validity before the next run",
			r.cfg.Validity, r.cfg.Interval, Margin, least, FreshnessFloor), live, liveErr)
	}
	if err := r.checkClock(ctx); err != nil {
		return r.refuse(ctx, att, err, live, liveErr)
	}
	key, err := r.cfg.Key()
	if err != nil {
		if reason.CodeOf(err) == "" {
			err = reason.Errorf(reason.RefreshConfigInvalid, "signing key: %w", err)
		}
		return r.refuse(ctx, att, err, live, liveErr)
	}
	content, err := r.cfg.Source.Content(ctx)
	if err != nil {
		return r.refuse(ctx, att, err, live, liveErr)
	}
	att.content = content
	if content.ValidUntil != 0 {
		r.log.Warn(tag+" the content's valid_until_epoch is ignored: the refresh stamps now + validity",
			"content_valid_until", content.ValidUntil, "validity", r.cfg.Validity)
		content.ValidUntil = 0
	}
	sp, pub, err := r.cfg.Store.SignAndPublish(ctx, content, key, policystore.Release{
		Seq: att.seq, Validity: r.cfg.Validity, Generator: GeneratorLabel, Actor: r.cfg.Actor, Check: r.checkCap,
	})
	if err != nil {
		return r.refuse(ctx, att, err, live, liveErr)
	}
	return r.published(ctx, sp, pub), nil
}

// attempt is what a run knew of the policy it tried to publish.
type attempt struct {
	seq     uint64
	content *policy.Content
}

func (r *Refresher) checkCap(p *policy.Policy) error {
	if r.cfg.MaxLeverage == 0 {
		return nil
	}
	var over []string
	for _, s := range slices.Sorted(maps.Keys(p.LeverageBySymbol)) {
		if l := p.LeverageBySymbol[s]; l > r.cfg.MaxLeverage {
			over = append(over, fmt.Sprintf("%s=%d", s, l))
		}
	}
	if len(over) > 0 {
		return reason.Errorf(reason.RefreshLeverageAboveCap, "leverage above the cap of %d: %s", r.cfg.MaxLeverage, strings.Join(over, ", "))
	}
	return nil
}

func (r *Refresher) published(ctx context.Context, sp *policy.Signed, pub *policystore.Published) *Report {
	now := r.cfg.Now()
	rep := &Report{Policy: sp, Published: pub, AuditID: pub.AuditEntryID}
	lo, hi := sp.LeverageRange()
	r.log.Info(fmt.Sprintf("%s POLICY_STATE: version=%s hash=%s valid_until=%d remaining_sec=%d",
		tag, sp.Version, sp.Hash, sp.ValidUntil, int64(sp.Remaining(now)/time.Second)))
	r.log.Info(fmt.Sprintf("%s POLICY_AUDIT: result=%s policy_seq=%d entry_id=%s actor=%s universe_count=%d leverage_range=%.1fx-%.1fx key_id=%s",
		tag, policystore.ResultPublished, sp.Seq, pub.AuditEntryID, r.cfg.Actor, len(sp.UniverseSymbols), float64(lo), float64(hi), sp.KeyID))

	var err error
	rep.Alert, err = r.cfg.Alerts.Resolve(ctx, r.failedAlert(map[string]string{
		"policy_seq": strconv.FormatUint(sp.Seq, 10), "policy_hash": sp.Hash,
	}))
	r.logAlert(alert.TypePolicyRefreshFailed, rep.Alert, err)
	rep.Expiry, err = r.expiry.Check(ctx, sp, nil, now)
	r.logAlert(alert.TypePolicyExpiring, rep.Expiry, err)
	return rep
}

func (r *Refresher) failedAlert(details map[string]string) alert.Alert {
	return alert.Alert{
		Type: alert.TypePolicyRefreshFailed, Severity: alert.SeverityWarning,
		Count: alert.CountOccurrences, Window: r.cfg.Interval, Details: details,
	}
}

// maxDetail bounds the explanation copied into audit entries and alerts.
const maxDetail = 512

// refuse records a refusal: log, audit entry, alert, expiry check. live and
// liveErr are what the run read of the live policy at its start.
func (r *Refresher) refuse(ctx context.Context, att attempt, cause error, live *policy.Signed, liveErr error) (*Report, error) {
	if ctx.Err() != nil {
		r.log.Warn(tag+" run interrupted before it finished: not recorded; the next run sees what is live", "error", cause)
		return &Report{}, fmt.Errorf("refresh interrupted: %w", cause)
	}
	code := reason.CodeOf(cause)
	if code == "" {
		// Every expected failure carries a code; anything else means the
		// refresh could not be carried out, and says so.
		code = reason.PolicyUnavailable
		cause = &reason.Error{Code: code, Msg: cause.Error(), Err: cause}
	}
	detail := strings.TrimPrefix(cause.Error(), string(code)+": ")
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "..."
	}
	rep := &Report{Code: code}
	r.log.Error(tag+" refused: the live policy is untouched", "reason", code, "detail", detail, "policy_seq_attempted", att.seq)

	entry := policystore.AuditEntry{
		Generator: GeneratorLabel, Actor: r.cfg.Actor, Result: policystore.ResultRejected,
		Reason: string(code), Detail: detail,
	}
	if att.seq > 0 {
		entry.Seq = strconv.FormatUint(att.seq, 10)
	}
	if c := att.content; c != nil {
		entry.Version = c.PolicyVersion
		entry.UniverseCount = strconv.Itoa(len(c.UniverseSymbols))
		if c.Generator != "" {
			entry.Generator = c.Generator
		}
		if lo, hi, ok := leverageRange(c.LeverageBySymbol); ok {
			entry.LeverageRange = fmt.Sprintf("%.1fx-%.1fx", lo, hi)
		}
	}
	errs := []error{cause}
	id, err := r.cfg.Store.AppendAudit(ctx, entry)
	if err != nil {
		r.log.Error(tag+" could not write the rejected audit entry", "error", err)
		errs = append(errs, fmt.Errorf("audit entry: %w", err))
	} else {
		rep.AuditID = id
		r.log.Info(fmt.Sprintf("%s POLICY_AUDIT: result=%s reason=%s policy_seq=%s entry_id=%s actor=%s",
			tag, policystore.ResultRejected, code, entry.Seq, id, r.cfg.Actor))
	}

	details := map[string]string{"reason": string(code), "detail": detail}
	if att.seq > 0 {
		details["policy_seq_attempted"] = entry.Seq
	}
	rep.Alert, err = r.cfg.Alerts.Fire(ctx, r.failedAlert(details), r.cfg.RepeatInterval)
	r.logAlert(alert.TypePolicyRefreshFailed, rep.Alert, err)
	if err != nil {
		errs = append(errs, fmt.Errorf("alert: %w", err))
	}
	if reason.CodeOf(liveErr) != reason.PolicyUnavailable {
		rep.Expiry, err = r.expiry.Check(ctx, live, liveErr, r.cfg.Now())
		r.logAlert(alert.TypePolicyExpiring, rep.Expiry, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("expiry alarm: %w", err))
		}
	}
	return rep, errors.Join(errs...)
}

// auditInterrupted writes one audit entry per run found interrupted.
func (r *Refresher) auditInterrupted(ctx context.Context, runs []Run) {
	for _, run := range runs {
		detail := fmt.Sprintf("the run started at %s on host %s (pid %d) never finished: its process was killed or its host went down; if it published, its published entry precedes this one",
			run.Started.UTC().Format(time.RFC3339), run.Host, run.PID)
		id, err := r.cfg.Store.AppendAudit(ctx, policystore.AuditEntry{
			Generator: GeneratorLabel, Actor: r.cfg.Actor, Result: policystore.ResultInterrupted,
			Reason: string(reason.RefreshInterrupted), Detail: detail,
		})
		if err != nil {
			r.log.Error(tag+" could not audit an interrupted run", "run", run.ID, "error", err)
			continue
		}
		r.log.Warn(fmt.Sprintf("%s POLICY_AUDIT: result=%s reason=%s entry_id=%s actor=%s run=%s",
			tag, policystore.ResultInterrupted, reason.RefreshInterrupted, id, r.cfg.Actor, run.ID))
	}
}

func (r *Refresher) logAlert(alertType string, res alert.Result, err error) {
	alert.LogResult(r.log, tag, alertType, res, err)
}

func leverageRange(m map[string]float64) (lo, hi float64, ok bool) {
	for _, l := range m {
		if !ok || l < lo {
			lo = l
		}
		if !ok || l > hi {
			hi = l
		}
		ok = true
	}
	return lo, hi, ok
}
