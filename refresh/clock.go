package refresh

import (
	"context"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// ClockFunc returns how far the shared clock (Redis TIME, read with
// redischeck.ClockOffset) is from this process's Now: positive when Redis
// is ahead, that is when this clock is behind.
type ClockFunc func(ctx context.Context) (time.Duration, error)

// Clock limits.
const (
	// MaxAhead is how far this clock may run ahead of Redis: the readers
	// refuse a policy issued more than policystore.DefaultClockSkew in
	// their future (POLICY_NOT_YET_VALID), so publishing it would halt
	// trading until their clocks caught up.
	MaxAhead = policystore.DefaultClockSkew
	// DefaultClockAlarm is the offset above which CLOCK_SKEW is raised
	// even when the run can still publish: half the freshness floor.
	DefaultClockAlarm = FreshnessFloor / 2
)

// checkClock compares this clock with Redis's. The policy is stamped with
// this clock and judged by the readers' (which Redis's stands for): a clock
// behind by d publishes a policy with validity - d left, which must still
// last the interval plus the margin; a clock ahead publishes one the readers
// do not accept yet. Either refuses with REFRESH_CLOCK_SKEW. CLOCK_SKEW is
// raised on a refusal or above the alarm threshold, resolved otherwise.
func (r *Refresher) checkClock(ctx context.Context) error {
	if r.cfg.RedisClock == nil {
		return nil
	}
	off, err := r.cfg.RedisClock(ctx)
	if err != nil {
		return reason.Errorf(reason.PolicyUnavailable, "reading Redis TIME to check this clock: %w", err)
	}
	var skew error
	switch remaining, least := r.cfg.Validity-off, r.cfg.Interval+Margin; {
	case off < -MaxAhead:
		skew = reason.Errorf(reason.RefreshClockSkew,
			"this clock is %s ahead of Redis TIME: readers would refuse the policy as POLICY_NOT_YET_VALID (they allow %s); fix the clock (NTP)",
			(-off).Round(time.Second), MaxAhead)
	case remaining < least:
		skew = reason.Errorf(reason.RefreshClockSkew,
			"this clock is %s behind Redis TIME: the policy would have %s of validity by Redis's clock and drop below %s before the next run in %s (needs %s); fix the clock (NTP)",
			off.Round(time.Second), remaining.Round(time.Second), FreshnessFloor, r.cfg.Interval, least)
	}
	a := alert.Alert{
		Type: alert.TypeClockSkew, Labels: map[string]string{"component": "policy-refresh"},
		Severity: alert.SeverityWarning, Count: alert.CountOccurrences, Window: r.cfg.ClockAlarm,
		Details: map[string]string{
			"offset_ms":       strconv.FormatInt(off.Milliseconds(), 10),
			"alarm_threshold": r.cfg.ClockAlarm.String(),
		},
	}
	abs := max(off, -off)
	var res alert.Result
	if skew != nil || abs > r.cfg.ClockAlarm {
		if skew != nil {
			a.Severity = alert.SeverityCritical
			a.Details["reason"] = string(reason.RefreshClockSkew)
		}
		res, err = r.cfg.Alerts.Fire(ctx, a, r.cfg.RepeatInterval)
		r.log.Warn(tag+" clock offset from Redis TIME", "offset", off.String(), "alarm_threshold", r.cfg.ClockAlarm.String())
	} else {
		res, err = r.cfg.Alerts.Resolve(ctx, a)
	}
	r.logAlert(alert.TypeClockSkew, res, err)
	return skew
}
