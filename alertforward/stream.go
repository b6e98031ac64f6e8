package alertforward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// rebuild reads the whole (capped) stream and keeps, per alert_id, its
// last state.
func (f *Forwarder) rebuild(ctx context.Context) error {
	f.cursor = ""
	return f.catchUp(ctx)
}

// catchUp reads the stream from the cursor on (the whole stream at
// start) and applies each entry to the firing set, whoever delivers it:
// with several forwarders in the group, an alert resolved through another
// one stops being re-sent here, and one fired through another is re-sent
// here too.
func (f *Forwarder) catchUp(ctx context.Context) error {
	start := "-"
	if f.cursor != "" {
		start = "(" + f.cursor
	}
	const page = 1000
	for {
		msgs, err := f.cfg.Redis.XRangeN(ctx, f.cfg.Keys.Alerts(), start, "+", page).Result()
		if err != nil {
			return fmt.Errorf("read %s to find the firing alerts: %w", f.cfg.Keys.Alerts(), err)
		}
		for _, m := range msgs {
			f.track(fieldsOf(m), false)
			f.cursor = m.ID
		}
		if len(msgs) < page {
			return nil
		}
		start = "(" + f.cursor
	}
}

// read returns the next entries: this consumer's own pending ones (own),
// else entries idle on dead consumers, else new ones (blocking when block).
func (f *Forwarder) read(ctx context.Context, own, block bool) ([]redis.XMessage, error) {
	if !own {
		claimed, _, err := f.cfg.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: f.cfg.Keys.Alerts(), Group: f.cfg.Group, Consumer: f.cfg.Consumer,
			MinIdle: f.cfg.ClaimIdle, Start: "0-0", Count: f.cfg.Batch,
		}).Result()
		if err != nil {
			return nil, err
		}
		if len(claimed) > 0 {
			f.log.Info(Tag+" claimed entries left pending by another consumer", "count", len(claimed))
			return claimed, nil
		}
	}
	id, wait := ">", time.Duration(-1) // go-redis: a negative Block sends no BLOCK
	if own {
		id = "0"
	} else if block {
		wait = f.cfg.Block
	}
	res, err := f.cfg.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: f.cfg.Group, Consumer: f.cfg.Consumer, Streams: []string{f.cfg.Keys.Alerts(), id},
		Count: f.cfg.Batch, Block: wait,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []redis.XMessage
	for _, s := range res {
		for _, m := range s.Messages {
			if m.Values == nil { // pending, but trimmed from the stream: nothing left to send
				f.ack(ctx, m.ID)
				continue
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *Forwarder) ackRetrying(ctx context.Context, id string) error {
	b := newBackoff(f.cfg.MinBackoff, f.cfg.MaxBackoff)
	for {
		err := f.cfg.Redis.XAck(ctx, f.cfg.Keys.Alerts(), f.cfg.Group, id).Err()
		if err == nil {
			return nil
		}
		// Delivered but not acknowledged: the entry would be sent again,
		// which Alertmanager deduplicates by labels. Retry the ack.
		f.cfg.Metrics.redisError()
		d := b.next()
		f.log.Error(Tag+" delivered, but the acknowledgement failed: retrying", "entry", id, "error", err, "retry_in", d)
		if !sleep(ctx, d) {
			return fmt.Errorf("entry %s delivered, not acknowledged: %w", id, errors.Join(err, ctx.Err()))
		}
	}
}

func (f *Forwarder) ack(ctx context.Context, id string) {
	if err := f.cfg.Redis.XAck(ctx, f.cfg.Keys.Alerts(), f.cfg.Group, id).Err(); err != nil {
		f.log.Warn(Tag+" could not acknowledge a trimmed entry", "entry", id, "error", err)
	}
}

func fieldsOf(m redis.XMessage) map[string]string {
	out := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
