package app

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/refresh"
	"github.com/quantumtrader/quantum/watch"
)

//go:embed dev_policy.json
var devPolicyJSON []byte

// DevPolicy returns the embedded default policy of `quantum dev`.
func DevPolicy() (*policy.Content, error) { return policy.ParseContent(bytes.NewReader(devPolicyJSON)) }

// DevOptions configures StartDev.
type DevOptions struct {
	// Redis, when set, is used (and not closed); else an embedded
	// Redis-protocol server (miniredis) listens on 127.0.0.1:Port.
	Redis redis.UniversalClient
	Port  int
	Keys  keys.Space
	// Validity of each published policy; RefreshEvery and WatchEvery are
	// the in-process refresh and watch intervals (0: off); Rate is the
	// simulator's plans per second (0: no traffic).
	Validity     time.Duration
	RefreshEvery time.Duration
	WatchEvery   time.Duration
	Rate         float64
	Now          func() time.Time
	Log          *slog.Logger
}

// Dev is the whole system running in one process.
type Dev struct {
	Redis   redis.UniversalClient
	Addr    string // the embedded server's host:port, "" with DevOptions.Redis
	Keys    keys.Space
	Dir     string // throwaway keys: policy.key, policy.pub, SOURCE.key per simulated source
	KeyPath string
	PubPath string
	Policy  *policy.Signed // the first published policy
	Store   *policystore.Store
	Trusted *policy.TrustedKeys
	Venue   *paper.Venue

	opt     DevOptions
	closers []func() // run in reverse order by Close
}

// StartDev starts the embedded Redis (unless given one), writes throwaway
// keys, publishes the embedded default policy, and runs the apply layer
// (consumer "dev", paper venue), the refresh and watch loops and the traffic
// simulator in the background. Close stops everything and removes the keys.
func StartDev(ctx context.Context, opt DevOptions) (_ *Dev, err error) {
	if opt.Now == nil || opt.Log == nil {
		return nil, errors.New("dev: a clock and a logger are required")
	}
	d := &Dev{Keys: opt.Keys, Redis: opt.Redis, opt: opt}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.Redis == nil {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr(fmt.Sprintf("127.0.0.1:%d", opt.Port)); err != nil {
			return nil, fmt.Errorf("embedded Redis on 127.0.0.1:%d: %w (is a Redis already running there? use --port)", opt.Port, err)
		}
		d.closers = append(d.closers, m.Close)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		d.closers = append(d.closers, func() { rdb.Close() })
		d.Redis, d.Addr = rdb, m.Addr()
	}
	if d.Dir, err = os.MkdirTemp("", "quantum-dev-"); err != nil {
		return nil, err
	}
	dir := d.Dir
	d.closers = append(d.closers, func() { os.RemoveAll(dir) })
	key, err := policy.GenerateKey()
	if err != nil {
		return nil, err
	}
	if d.KeyPath, d.PubPath, err = policy.WriteKeyPair(d.Dir, key); err != nil {
		return nil, err
	}
	d.Trusted = policy.NewTrustedKeys(key.Public())
	if d.Store, err = policystore.New(d.Redis, policystore.Options{Keys: d.Keys, Keyring: d.Trusted, Now: opt.Now}); err != nil {
		return nil, err
	}
	content, err := DevPolicy()
	if err != nil {
		return nil, fmt.Errorf("embedded default policy: %w", err)
	}
	if d.Policy, _, err = d.Store.SignAndPublish(ctx, content, key, policystore.Release{Validity: opt.Validity, Generator: "quantum dev", Actor: "quantum dev"}); err != nil {
		return nil, fmt.Errorf("publish the default policy: %w", err)
	}
	opt.Log.Info("dev policy published", "policy_seq", d.Policy.Seq, "policy_hash", d.Policy.Hash, "key_id", d.Policy.KeyID)
	if opt.RefreshEvery > 0 {
		if err := d.startRefresh(ctx, key, opt); err != nil {
			return nil, fmt.Errorf("refresh loop: %w", err)
		}
	}
	if opt.WatchEvery > 0 {
		if err := d.startWatch(ctx, opt); err != nil {
			return nil, fmt.Errorf("exit-owner watch loop: %w", err)
		}
	}
	secrets, err := devSecrets(d.Dir)
	if err != nil {
		return nil, err
	}
	if d.Venue, err = paper.New(d.Redis, d.Keys, DevPrices); err != nil {
		return nil, fmt.Errorf("paper venue: %w", err)
	}
	svc, err := NewApplyLayer(ApplyLayerOptions{
		Redis: d.Redis, Keys: d.Keys, Venue: d.Venue, Trusted: d.Trusted, Secrets: plan.NewSecrets(secrets),
		ExitOwner: gate.DefaultExitOwner, Consumer: "dev", Block: 200 * time.Millisecond, Now: opt.Now, Log: opt.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("apply layer: %w", err)
	}
	stop, err := Start(ctx, svc, 10*time.Second, opt.Log)
	if err != nil {
		return nil, fmt.Errorf("apply layer: %w", err)
	}
	d.closers = append(d.closers, stop)
	if opt.Rate > 0 {
		sim := &simulator{rdb: d.Redis, ks: d.Keys, venue: d.Venue, secrets: secrets, now: opt.Now, log: opt.Log,
			rng: rand.New(rand.NewPCG(uint64(opt.Now().UnixNano()), 8))}
		d.closers = append(d.closers, Background(ctx, func(ctx context.Context) { sim.loop(ctx, opt.Rate) }))
	}
	return d, nil
}

// Close stops the loops, the apply layer and the embedded Redis, and
// removes the throwaway keys.
func (d *Dev) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// startRefresh runs the refresh loop with the embedded policy as its
// template.
func (d *Dev) startRefresh(ctx context.Context, key *policy.PrivateKey, opt DevOptions) error {
	alerts, err := alert.New(d.Redis, alert.Options{Keys: d.Keys, Now: opt.Now})
	if err != nil {
		return err
	}
	r, err := refresh.New(refresh.Config{
		Store: d.Store, Alerts: alerts, Log: opt.Log, Now: opt.Now,
		Source:   refresh.SourceFunc(func(context.Context) (*policy.Content, error) { return DevPolicy() }),
		Key:      func() (*policy.PrivateKey, error) { return key, nil },
		Validity: opt.Validity, Interval: opt.RefreshEvery, Actor: "quantum dev",
	})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, Background(ctx, func(ctx context.Context) { refresh.Loop(ctx, r, opt.RefreshEvery) }))
	return nil
}

// startWatch runs the exit-owner watch over the default 5-minute window, at
// once and then every WatchEvery (shorter than the timer's 5 minutes, so a
// denial made in the demo shows quickly).
func (d *Dev) startWatch(ctx context.Context, opt DevOptions) error {
	w, err := watch.Open(d.Redis, watch.Config{Keys: d.Keys, Log: opt.Log, Now: opt.Now, Interval: opt.WatchEvery})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, Background(ctx, func(ctx context.Context) { watch.Loop(ctx, w, opt.WatchEvery) }))
	return nil
}

// PriceList renders the paper venue's marks of `quantum dev`.
func PriceList() string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(DevPrices)) {
		parts = append(parts, s+" "+DevPrices[s])
	}
	return strings.Join(parts, ", ")
}
