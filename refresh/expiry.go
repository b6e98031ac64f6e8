package refresh

import (
	"context"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// ExpiryAlarm raises POLICY_EXPIRING when the live policy's remaining
// validity falls under Threshold, and resolves it once a check finds at
// least Threshold left. `quantum policy refresh` checks after every run and
// `quantum policy verify` after every successful read; both share the
// alert's dedupe state, so an operator gets one firing alert per incident,
// re-notified every Repeat, and one resolved alert.
//
// The alert is critical: with the default threshold of 45 minutes, at most
// 15 minutes remain before the policy drops below the 30-minute freshness
// floor. Its window is the threshold; deny_count counts the checks that
// found the policy expiring during the incident.
type ExpiryAlarm struct {
	Alerts    Alerter
	Threshold time.Duration // 0 disables the alarm
	Repeat    time.Duration // 0 means DefaultRepeatInterval
}

// Check looks at the live policy as a reader read it: sp when it verified,
// else loadErr. A verified policy raises the alarm below the threshold and
// resolves it otherwise. A stale policy (POLICY_STALE) raises it too: it is
// past expiring. Any other read error (missing, tampered, Redis down) leaves
// the alarm as it is, since it says nothing about the expiry: those are the
// refresh's and the readers' own failures to report. The zero Result means
// nothing was checked.
func (e ExpiryAlarm) Check(ctx context.Context, sp *policy.Signed, loadErr error, now time.Time) (alert.Result, error) {
	if e.Threshold <= 0 || e.Alerts == nil {
		return alert.Result{}, nil
	}
	repeat := e.Repeat
	if repeat <= 0 {
		repeat = DefaultRepeatInterval
	}
	a := alert.Alert{
		Type: alert.TypePolicyExpiring, Severity: alert.SeverityCritical,
		Count: alert.CountOccurrences, Window: e.Threshold,
		Details: map[string]string{"threshold_sec": strconv.FormatInt(int64(e.Threshold/time.Second), 10)},
	}
	switch {
	case sp != nil:
		remaining := sp.Remaining(now)
		a.Details["remaining_sec"] = strconv.FormatInt(int64(remaining/time.Second), 10)
		a.Details["valid_until_epoch"] = strconv.FormatInt(sp.ValidUntil, 10)
		a.Details["policy_seq"] = strconv.FormatUint(sp.Seq, 10)
		a.Details["policy_version"] = sp.Version
		if remaining >= e.Threshold {
			return e.Alerts.Resolve(ctx, a)
		}
		a.Details["reason"] = string(alert.TypePolicyExpiring)
		return e.Alerts.Fire(ctx, a, repeat)
	case reason.CodeOf(loadErr) == reason.PolicyStale:
		a.Details["reason"] = string(reason.PolicyStale)
		a.Details["detail"] = loadErr.Error()
		return e.Alerts.Fire(ctx, a, repeat)
	}
	return alert.Result{}, nil
}
