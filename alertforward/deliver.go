package alertforward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// deliver sends one entry to every target, retrying the ones that failed,
// then acknowledges it. retryFor 0 retries until ctx is done.
func (f *Forwarder) deliver(ctx context.Context, m redis.XMessage, retryFor time.Duration) error {
	fields := fieldsOf(m)
	msgs := f.amMessages(fields)
	hook := webhookBody{Version: "quantum-alert/v1", EntryID: m.ID, Stream: f.cfg.Keys.Alerts(), Alert: fields}
	done := make([]bool, len(f.targets))
	b := newBackoff(f.cfg.MinBackoff, f.cfg.MaxBackoff)
	var deadline time.Time
	if retryFor > 0 {
		deadline = time.Now().Add(retryFor)
	}
	for attempt := 1; ; attempt++ {
		var errs []error
		for i, t := range f.targets {
			if done[i] {
				continue
			}
			var body any = hook
			if t.am {
				body = msgs
			}
			if err := post(ctx, f.hc, t, body); err != nil {
				f.cfg.Metrics.sendFailed(t.name)
				errs = append(errs, err)
				continue
			}
			done[i] = true
		}
		if len(errs) == 0 {
			break
		}
		err := errors.Join(errs...)
		if ctx.Err() != nil {
			return fmt.Errorf("entry %s not delivered, left pending: %w", m.ID, ctx.Err())
		}
		d := b.next()
		if !deadline.IsZero() && time.Now().Add(d).After(deadline) {
			f.log.Error(Tag+" giving up for now: the entry stays pending", "entry", m.ID, "alert_id", fields["alert_id"], "attempts", attempt, "error", err)
			return fmt.Errorf("entry %s (alert_id %s) not delivered after %d attempts, left pending: %w", m.ID, fields["alert_id"], attempt, err)
		}
		f.log.Warn(Tag+" delivery failed: retrying", "entry", m.ID, "alert_id", fields["alert_id"], "attempt", attempt, "retry_in", d, "error", err)
		if retryFor == 0 {
			// One Alertmanager of a pair down stalls this entry: the other
			// must still hear of the firing alerts, or it resolves them.
			f.resendIfDue(ctx)
		}
		if !sleep(ctx, d) {
			return fmt.Errorf("entry %s not delivered, left pending: %w", m.ID, ctx.Err())
		}
	}
	f.track(fields, true)
	if err := f.ackRetrying(ctx, m.ID); err != nil {
		return err
	}
	f.cfg.Metrics.forwarded(fields["alert_type"], fields["status"], f.cfg.Now())
	f.log.Info(Tag+" alert forwarded", "entry", m.ID, "alert_type", fields["alert_type"], "status", fields["status"],
		"alert_id", fields["alert_id"], "targets", len(f.targets))
	return nil
}

// resendIfDue re-sends the firing alerts when the resend interval has
// passed (Run only).
func (f *Forwarder) resendIfDue(ctx context.Context) {
	if now := f.cfg.Now(); !now.Before(f.nextResend) {
		if err := f.catchUp(ctx); err != nil {
			f.cfg.Metrics.redisError()
			f.log.Warn(Tag+" could not read the alert stream before a re-send: re-sending what is known", "error", err)
		}
		f.resend(ctx)
		f.nextResend = now.Add(f.cfg.ResendInterval)
	}
}

// resend re-sends every firing alert to every Alertmanager, best effort:
// a failure is logged and counted, and the next resend tries again.
func (f *Forwarder) resend(ctx context.Context) {
	f.mu.Lock()
	var batch []amAlert
	for _, as := range f.firing {
		batch = append(batch, as[len(as)-1])
	}
	f.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	for _, t := range f.targets {
		if !t.am {
			continue
		}
		if err := post(ctx, f.hc, t, batch); err != nil {
			f.cfg.Metrics.sendFailed(t.name)
			f.log.Warn(Tag+" re-send of the firing alerts failed: the next one retries", "target", t.name, "alerts", len(batch), "error", err)
			continue
		}
		f.cfg.Metrics.resent(len(batch))
	}
}
