package applylayer

// The clock: freshness is judged on this process's clock against the
// producers', and the leases run on Redis's; an offset between this clock
// and Redis TIME beyond half the freshness window (redischeck.SkewLimit)
// makes fresh plans expire or stale ones pass. Checked with the tamper
// check's cadence (about every batch): logged, exported as
// quantum_apply_clock_offset_seconds, raised as CLOCK_SKEW while it lasts
// and resolved once back in step.

import (
	"context"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redischeck"
)

// checkClock compares the clock with Redis TIME (called from checkStream).
func (s *Service) checkClock(ctx context.Context) {
	c, err := redischeck.ClockOffset(ctx, s.rdb, s.cfg.Now)
	if err != nil {
		return
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.clockOffset.Set(c.Offset.Seconds())
	}
	limit := redischeck.SkewLimit(s.cfg.Freshness)
	skewed := c.Offset.Abs() > limit
	if skewed != s.clockSkewed {
		if skewed {
			s.cfg.Log.Error("CLOCK_SKEW: this clock and Redis's differ by more than half the freshness window: fresh plans may be refused as expired, or late ones accepted",
				"offset", c.Offset.Round(time.Millisecond), "limit", limit)
		} else {
			s.cfg.Log.Info("clock back in step with Redis", "offset", c.Offset.Round(time.Millisecond))
		}
	}
	s.clockSkewed = skewed
	if s.cfg.Alerts == nil {
		return
	}
	a := alert.Alert{Type: alert.TypeClockSkew, Labels: map[string]string{"consumer": s.cfg.Consumer},
		Severity: alert.SeverityCritical, Count: alert.CountOccurrences, Window: s.cfg.Freshness}
	if skewed {
		a.Details = map[string]string{"offset_ms": c.Offset.Round(time.Millisecond).String(), "limit": limit.String()}
		s.cfg.Alerts.Fire(ctx, a, time.Hour)
	} else if s.clockAlerted {
		s.cfg.Alerts.Resolve(ctx, a)
	}
	s.clockAlerted = skewed
}
