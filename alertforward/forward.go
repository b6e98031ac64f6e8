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
