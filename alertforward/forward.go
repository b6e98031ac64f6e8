// Package alertforward is `quantum alerts forward`: it reads
// <prefix>:stream:alerts in a consumer group and delivers every entry to
// Alertmanager's v2 API and, optionally, to generic JSON webhooks.
//
// Delivery. Every entry goes to every target (each Alertmanager of an HA
// pair gets every alert, as Prometheus does it; each webhook too). An entry
// is acknowledged (XACK) only after every target has answered 2xx; until
// then it is retried with exponential back-off, in stream order, so a
// firing and its resolution never arrive reversed, and targets that already
// took the entry are not sent it again. An entry never acknowledged stays
// pending in the group and is delivered again by the next run (a restart
// reads its own pending entries first; entries left pending by a dead
// consumer are claimed after ClaimIdle). Nothing is dropped: a target that
// is down stops the pipeline until it is back, which the metrics and the
// log show.
//
// Alertmanager's model. Labels are an alert's identity: alertname (the
// alert_type), severity, alert_id and, when present, sources and symbols;
// every other field is an annotation. A firing entry is sent without
// endsAt, a resolved one with endsAt at its timestamp. Alertmanager treats
// an alert without endsAt as resolved once resolve_timeout (default 5m)
// passes without news, so every firing alert is re-sent to every
// Alertmanager each ResendInterval (Prometheus re-sends each minute) until
// it is resolved. The watch re-notifies with the current sources and
// symbols, so the labels of one alert_id can change: the forwarder then
// resolves the label set it sent before, and a resolved entry (which
// carries no details) resolves every label set sent for its alert_id.
//
// The set of firing alerts is rebuilt at start from the stream itself (the
// last entry of each alert_id decides), and brought up to date from the
// stream before each re-send, so neither a restart nor a second forwarder
// in the group (which delivers some of the entries) makes one forget to
// re-send an alert or revive a resolved one. The stream is capped
// (alert.DefaultMaxLen): an incident whose firing entry was trimmed away is
// no longer re-sent.
package alertforward

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// Defaults of Config.
const (
	DefaultGroup          = "alerts_forward"
	DefaultResendInterval = time.Minute
	DefaultBlock          = time.Second
	DefaultClaimIdle      = time.Minute
	DefaultBatch          = 100
	DefaultMinBackoff     = 250 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultRetryFor       = 30 * time.Second
)

// maxEnded bounds the label sets kept for resolutions not yet delivered
// here (another forwarder of the group may deliver them): the stream's cap.
const maxEnded = 10000

// Tag starts the forwarder's log lines.
const Tag = "[ALERTS-FORWARD]"

// Redis is what the forwarder needs of a client (*redis.Client). Blocking
// reads must honour the context (ContextTimeoutEnabled).
type Redis interface {
	XGroupCreateMkStream(ctx context.Context, stream, group, start string) *redis.StatusCmd
	XReadGroup(ctx context.Context, a *redis.XReadGroupArgs) *redis.XStreamSliceCmd
	XAutoClaim(ctx context.Context, a *redis.XAutoClaimArgs) *redis.XAutoClaimCmd
	XAck(ctx context.Context, stream, group string, ids ...string) *redis.IntCmd
	XRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
}

// Config configures a Forwarder. Redis, Keys, Consumer, Now and at least
// one Alertmanager or webhook are required.
type Config struct {
	Redis         Redis
	Keys          keys.Space
	Group         string // DefaultGroup
	Consumer      string // stable per host, so a restart finds its own pending entries
	Alertmanagers []string
	Webhooks      []string
	HTTP          *http.Client // nil: a client with DefaultRequestTimeout
	Now           func() time.Time
	Log           *slog.Logger // nil discards
	Metrics       *Metrics     // nil: none

	ResendInterval time.Duration // re-send of firing alerts to Alertmanager
	Block          time.Duration // longest wait of one read; never 0 (go-redis would block forever)
	ClaimIdle      time.Duration // claim entries pending this long on another consumer
	Batch          int64
	MinBackoff     time.Duration
	MaxBackoff     time.Duration
	// RetryFor bounds how long Drain retries one entry before it gives up
	// and returns an error, leaving the entry pending. Run retries forever.
	RetryFor time.Duration
}

// Forwarder delivers alerts. Run and Drain must not run at once on one
// Forwarder.
type Forwarder struct {
	cfg     Config
	log     *slog.Logger
	hc      *http.Client
	targets []target

	nextResend time.Time // Run only: when firing alerts are re-sent next
	cursor     string    // the last stream entry applied to the firing set by catchUp

	mu     sync.Mutex
	firing map[string][]amAlert // alert_id -> label sets sent while firing; the last is current
	ended  map[string][]amAlert // alert_id -> label sets of an alert resolved on the stream, until its resolution is delivered here
	types  map[string][2]string // alert_id -> alert_type, severity (for the firing gauge)
}

// New checks cfg and returns a Forwarder.
func New(cfg Config) (*Forwarder, error) {
	switch {
	case cfg.Redis == nil || cfg.Now == nil:
		return nil, errors.New("alertforward: Redis and Now are required")
	case cfg.Keys.Prefix() == "":
		return nil, errors.New("alertforward: no key prefix")
	case cfg.Consumer == "":
		return nil, errors.New("alertforward: no consumer name")
	case len(cfg.Alertmanagers)+len(cfg.Webhooks) == 0:
		return nil, errors.New("alertforward: no target: give at least one Alertmanager or webhook URL")
	case cfg.ResendInterval < 0, cfg.Block < 0, cfg.ClaimIdle < 0, cfg.Batch < 0, cfg.MinBackoff < 0, cfg.MaxBackoff < 0, cfg.RetryFor < 0:
		return nil, errors.New("alertforward: durations and the batch size must not be negative")
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.ResendInterval = cmp.Or(cfg.ResendInterval, DefaultResendInterval)
	cfg.Block = cmp.Or(cfg.Block, DefaultBlock)
	cfg.ClaimIdle = cmp.Or(cfg.ClaimIdle, DefaultClaimIdle)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, DefaultMinBackoff)
	cfg.MaxBackoff = max(cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff), cfg.MinBackoff)
	cfg.RetryFor = cmp.Or(cfg.RetryFor, DefaultRetryFor)
	f := &Forwarder{cfg: cfg, log: cfg.Log, hc: cfg.HTTP, firing: map[string][]amAlert{}, ended: map[string][]amAlert{}, types: map[string][2]string{}}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.hc == nil {
		f.hc = &http.Client{Timeout: DefaultRequestTimeout}
	}
	seen := map[string]bool{}
	for _, list := range []struct {
		urls []string
		am   bool
	}{{cfg.Alertmanagers, true}, {cfg.Webhooks, false}} {
		for _, u := range list.urls {
			t, err := newTarget(u, list.am)
			if err != nil {
				return nil, fmt.Errorf("alertforward: %w", err)
			}
			if seen[t.url] {
				return nil, fmt.Errorf("alertforward: target %s given twice", t.name)
			}
			seen[t.url] = true
			cfg.Metrics.addTarget(t.name)
			f.targets = append(f.targets, t)
		}
	}
	if cfg.Metrics != nil {
		cfg.Metrics.firingFunc(f.firingCounts)
	}
	return f, nil
}

// Run forwards until ctx is done. It calls ready (if not nil) once it has
// started: the group exists and the firing set is rebuilt. It returns nil
// on cancellation and an error only when it cannot start (the group cannot
// be created, the stream cannot be read); Redis and target failures after
// that are retried with back-off.
func (f *Forwarder) Run(ctx context.Context, ready func()) error {
	if err := f.start(ctx); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	f.log.Info(Tag+" forwarding", "stream", f.cfg.Keys.Alerts(), "group", f.cfg.Group, "consumer", f.cfg.Consumer,
		"targets", sortedTargets(f.targets), "resend_interval", f.cfg.ResendInterval)
	f.nextResend = f.cfg.Now().Add(f.cfg.ResendInterval)
	readErrs := newBackoff(f.cfg.MinBackoff, f.cfg.MaxBackoff)
	ownPending := true
	for ctx.Err() == nil {
		f.resendIfDue(ctx)
		msgs, err := f.read(ctx, ownPending, true)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			f.cfg.Metrics.redisError()
			d := readErrs.next()
			f.log.Error(Tag+" redis unavailable: retrying", "error", err, "retry_in", d)
			sleep(ctx, d)
			continue
		}
		readErrs.reset()
		if ownPending && len(msgs) == 0 {
			ownPending = false
			continue
		}
		for _, m := range msgs {
			if err := f.deliver(ctx, m, 0); err != nil {
				break // only ctx ends a delivery in Run
			}
		}
	}
	f.log.Info(Tag + " stopped")
	return nil
}

// Drain forwards every entry pending or new, then returns: `--once`. An
// entry that cannot be delivered within RetryFor stops the drain with an
// error and stays pending for the next run. It reports how many entries it
// delivered.
func (f *Forwarder) Drain(ctx context.Context) (int, error) {
	if err := f.start(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, own := range []bool{true, false} {
		for {
			msgs, err := f.read(ctx, own, false)
			if err != nil {
				return n, fmt.Errorf("read %s: %w", f.cfg.Keys.Alerts(), err)
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				if err := f.deliver(ctx, m, f.cfg.RetryFor); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

// start creates the group (from the stream's start: entries written before
// the first run are forwarded too) and rebuilds the firing set.
func (f *Forwarder) start(ctx context.Context) error {
	err := f.cfg.Redis.XGroupCreateMkStream(ctx, f.cfg.Keys.Alerts(), f.cfg.Group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", f.cfg.Group, f.cfg.Keys.Alerts(), err)
	}
	return f.rebuild(ctx)
}

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

// amMessages is what Alertmanager gets for an entry: the alert itself and,
// when it resolves or changes the labels of an alert_id, the resolution of
// the label sets sent before.
func (f *Forwarder) amMessages(fields map[string]string) []amAlert {
	a := fromEntry(fields)
	f.mu.Lock()
	prev := f.firing[fields["alert_id"]]
	if fields["status"] != "firing" && len(prev) == 0 {
		prev = f.ended[fields["alert_id"]] // already resolved by catchUp
	}
	f.mu.Unlock()
	end := f.cfg.Now()
	if t, ok := unix(fields["timestamp"]); ok {
		end = t
	}
	if fields["status"] != "firing" && len(prev) > 0 {
		// A resolved entry carries no details: resolve what was sent.
		var out []amAlert
		for _, p := range prev {
			out = append(out, p.resolvedAt(end))
		}
		return out
	}
	out := []amAlert{a}
	for _, p := range prev {
		if !sameLabels(p, a) {
			out = append(out, p.resolvedAt(end))
		}
	}
	return out
}

// track records an entry's effect on the firing set. A delivered firing
// entry leaves its label set alone for its alert_id (the ones before were
// resolved in the same POST); one seen by catchUp is added to the label
// sets, so that the delivery which follows, here, resolves the others.
func (f *Forwarder) track(fields map[string]string, delivered bool) {
	id := fields["alert_id"]
	if id == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fields["status"] != "firing" {
		if !delivered && len(f.firing[id]) > 0 {
			// Keep what to resolve for the delivery of this entry.
			if len(f.ended) >= maxEnded {
				clear(f.ended)
			}
			f.ended[id] = f.firing[id]
		}
		if delivered {
			delete(f.ended, id)
		}
		delete(f.firing, id)
		delete(f.types, id)
		return
	}
	a := fromEntry(fields)
	sets := []amAlert{a}
	if !delivered {
		for _, p := range f.firing[id] {
			if !sameLabels(p, a) {
				sets = append(sets, p)
			}
		}
		sets = append(sets[1:], a) // the current one last
	}
	f.firing[id] = sets
	f.types[id] = [2]string{fields["alert_type"], fields["severity"]}
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

// Firing returns the alert_ids the forwarder holds as firing.
func (f *Forwarder) Firing() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.firing {
		ids = append(ids, id)
	}
	return ids
}

func (f *Forwarder) firingCounts() map[[2]string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[[2]string]int{}
	for _, ts := range f.types {
		n[ts]++
	}
	return n
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

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff doubles from min to max.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(lo, hi time.Duration) *backoff { return &backoff{min: lo, max: hi} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
