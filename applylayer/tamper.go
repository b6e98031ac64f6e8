package applylayer

// Tamper detection on the plan stream (package planstream): checked at
// most every TamperCheckEvery by the consume loop, and from XAUTOCLAIM's
// list of entries deleted while pending. A new event is logged
// (PLAN_STREAM_TAMPERED), counted, and raised as the PLAN_STREAM_TAMPERED
// alert; the event last raised per kind is kept in Redis
// (keys.ApplyTamper), so replicas and restarts raise each event once, and
// the alert is resolved once no new event of its kind came for
// TamperQuiet. The apply layer goes on serving plans: the plans that were
// deleted are lost to it, the ones that remain are not.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/planstream"
)

// Alerter raises and resolves alerts (alert.Publisher).
type Alerter interface {
	Fire(ctx context.Context, a alert.Alert, repeat time.Duration) (alert.Result, error)
	Resolve(ctx context.Context, a alert.Alert) (alert.Result, error)
}

// TypePlanStreamTampered is the alert of a tampered plan stream (SPEC.md).
const TypePlanStreamTampered = "PLAN_STREAM_TAMPERED"

// TamperCheckEvery bounds how often the consume loop inspects the stream.
const TamperCheckEvery = 500 * time.Millisecond

// TamperQuiet is how long after its last event a kind's alert is resolved.
const TamperQuiet = 15 * time.Minute

// checkStream inspects the plan stream when it is due.
func (s *Service) checkStream(ctx context.Context) {
	if time.Since(s.lastTamperCheck) < TamperCheckEvery {
		return
	}
	s.lastTamperCheck = time.Now()
	s.checkClock(ctx)
	found, err := planstream.Inspect(ctx, s.rdb, s.cfg.Keys, s.cfg.Group)
	if err != nil {
		s.cfg.Log.Warn("plan stream: could not inspect it for tampering", "error", err)
		return
	}
	s.tampered(ctx, found...)
}

// tampered records findings: new events are logged, counted and alerted;
// kinds quiet for TamperQuiet are resolved.
func (s *Service) tampered(ctx context.Context, found ...planstream.Finding) {
	key := s.cfg.Keys.ApplyTamper()
	seen, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		s.cfg.Log.Warn("plan stream: tamper state unreadable", "error", err)
		return
	}
	now := s.cfg.Now()
	active := map[string]bool{}
	for _, f := range found {
		active[f.Kind] = true
		if seen[f.Kind] == f.Event {
			continue
		}
		if ok, err := s.rdb.HSetNX(ctx, key, f.Kind+"/"+f.Event, now.Unix()).Result(); err != nil || !ok {
			continue // another replica took this event, or Redis failed: it will be seen again
		}
		s.rdb.HSet(ctx, key, f.Kind, f.Event, f.Kind+"_at", now.Unix())
		s.cfg.Log.Error(fmt.Sprintf("PLAN_STREAM_TAMPERED kind=%s %s", f.Kind, f.Detail), "stream", s.cfg.Keys.ApplyPlan())
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.tampered.WithLabelValues(f.Kind).Inc()
		}
		if s.cfg.Alerts != nil {
			a := tamperAlert(f.Kind)
			a.Details = map[string]string{"kind": f.Kind, "event": f.Event, "detail": f.Detail, "stream": s.cfg.Keys.ApplyPlan()}
			if _, err := s.cfg.Alerts.Fire(ctx, a, time.Hour); err != nil {
				s.cfg.Log.Error("PLAN_STREAM_TAMPERED alert not published", "error", err)
			}
		}
	}
	if s.cfg.Alerts == nil {
		return
	}
	for _, kind := range []string{planstream.DeletedUnread, planstream.DeletedPending, planstream.FutureID} {
		at, _ := strconv.ParseInt(seen[kind+"_at"], 10, 64)
		if at == 0 || (active[kind] && kind == planstream.FutureID) || now.Sub(time.Unix(at, 0)) < TamperQuiet {
			continue // a far-future id is resolved only once it is gone
		}
		s.cfg.Alerts.Resolve(ctx, tamperAlert(kind))
	}
}

func tamperAlert(kind string) alert.Alert {
	return alert.Alert{Type: TypePlanStreamTampered, Labels: map[string]string{"kind": kind},
		Severity: alert.SeverityCritical, Count: alert.CountOccurrences, Window: TamperQuiet}
}
