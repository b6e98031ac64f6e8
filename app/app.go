// Package app is the wiring: it builds whole services from options, the
// way prometheus/alertmanager's app/ does, so that the daemon, `quantum
// dev`, the benchmarks and the in-process tests stand up the same thing
// and cmd/quantum keeps only flags, output and exit codes.
//
//   - NewApplyLayer: an apply layer (policy store, gate configuration,
//     authentication, metrics) over a venue; OpenVenue opens that venue.
//   - ApplyLayerConfig: the same from the operator's values (file paths,
//     lists), checked and loaded by Build; RunApplyLayer is the whole
//     `quantum apply-layer` daemon (config.go, daemon.go).
//   - Start: runs a service in the background until it consumes.
//   - Serve: /metrics and /healthz; Watchdog feeds systemd.
//   - StartDev: the whole system in one process, for `quantum dev`.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

// ApplyLayerOptions configures NewApplyLayer. Redis, Keys, Venue, Trusted,
// ExitOwner and Now are required; Secrets is required unless AuthOff. Zero
// durations and sizes take the applylayer defaults.
type ApplyLayerOptions struct {
	Redis      redis.UniversalClient
	Keys       keys.Space
	Venue      exchange.Venue
	Trusted    *policy.TrustedKeys // the policy's signers
	Secrets    *plan.Secrets       // the producers' HMAC secrets
	AuthOff    bool                // accept unsigned plans: only to migrate producers
	ExitOwner  string
	BreakGlass []string // other sources that may close positions, each with its own secret
	// ProofSource is the only source that may send canary plans, and only
	// canaries (gate.DefaultProofSource when "").
	ProofSource string
	Group       string
	Consumer    string // "" means DefaultConsumer()
	Batch       int64
	Block       time.Duration
	ClaimIdle   time.Duration
	Freshness   time.Duration
	RecordTTL   time.Duration
	Now         func() time.Time
	Log         *slog.Logger
	// MinReplicas is how many replicas a batch's execution records must
	// reach before its orders (0: none, and a failover may lose plans);
	// ReplicaWait bounds the wait.
	MinReplicas int
	ReplicaWait time.Duration
	// ResultKey authenticates every result (result_mac); nil writes them
	// unsigned, and readers cannot tell a forged one.
	ResultKey []byte
	// Registerer, when set, receives the apply layer's metrics.
	Registerer prometheus.Registerer
	// Shadow runs the layer in shadow mode (shadow.go): it never places.
	Shadow bool
}

// NewApplyLayer builds an apply layer from opt. It refuses a configuration
// that could not authenticate or gate anything (no trusted keys, no
// secrets, an exit owner that is not a source name, a break-glass source
// without a secret); an exit owner without a secret is allowed but logged,
// since then no position can be closed.
func NewApplyLayer(opt ApplyLayerOptions) (*applylayer.Service, error) {
	switch {
	case opt.Trusted == nil:
		return nil, errors.New("no trusted policy keys: every plan would be denied")
	case opt.Secrets == nil && !opt.AuthOff:
		return nil, errors.New("no producer secrets (keyring) and authentication is required")
	case !plan.ValidSource(opt.ExitOwner):
		return nil, fmt.Errorf("exit owner %q is not a source name", opt.ExitOwner)
	case opt.Now == nil:
		return nil, errors.New("no clock")
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	breakGlass := map[string]bool{}
	for _, s := range opt.BreakGlass {
		if opt.Secrets != nil {
			if _, ok := opt.Secrets.Secret(s); !ok {
				return nil, fmt.Errorf("break-glass source %s has no key in the keyring", s)
			}
		}
		breakGlass[s] = true
	}
	if opt.MinReplicas <= 0 {
		opt.Log.Warn("no replica required (--min-replicas 0): an asynchronous Redis failover may lose plans acknowledged to producers and execution records of orders placed (docs/deploy.md)")
	}
	if opt.ResultKey == nil {
		opt.Log.Warn("no result key (--result-key, QUANTUM_RESULT_KEY): results are written unauthenticated, and the watch, status and proofs cannot tell a forged one")
	}
	if opt.Secrets != nil {
		if _, ok := opt.Secrets.Secret(opt.ExitOwner); !ok {
			opt.Log.Warn("the exit owner has no key in the keyring: no position can be closed", "exit_owner", opt.ExitOwner)
		}
	}
	// SharedMemory: the rollback memory lives in Redis too, so a restarted
	// apply layer still refuses an older policy (docs/policy.md).
	store, err := policystore.New(opt.Redis, policystore.Options{Keys: opt.Keys, Keyring: opt.Trusted, Now: opt.Now, SharedMemory: true})
	if err != nil {
		return nil, err
	}
	if opt.Consumer == "" {
		opt.Consumer = DefaultConsumer()
	}
	alerts, err := alert.New(opt.Redis, alert.Options{Keys: opt.Keys, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	cfg := applylayer.Config{
		Alerts: alerts, ResultKey: opt.ResultKey, MinReplicas: opt.MinReplicas, ReplicaWait: opt.ReplicaWait,
		Keys: opt.Keys, Group: opt.Group, Consumer: opt.Consumer, Batch: opt.Batch, Block: opt.Block,
		ClaimIdle: opt.ClaimIdle, RecordTTL: opt.RecordTTL, Freshness: opt.Freshness,
		Keyring: opt.Secrets, AuthOff: opt.AuthOff,
		Gate: gate.Config{ExitOwner: opt.ExitOwner, BreakGlass: breakGlass, Freshness: opt.Freshness, ProofSource: opt.ProofSource},
		Now:  opt.Now, Log: opt.Log,
	}
	if opt.Shadow {
		if err := shadowConfig(&cfg, &opt.Venue); err != nil {
			return nil, err
		}
	}
	svc, err := applylayer.New(opt.Redis, store, opt.Venue, cfg)
	if err != nil {
		return nil, err
	}
	if opt.Registerer != nil {
		svc.SetMetrics(applylayer.NewMetrics(opt.Registerer, opt.AuthOff))
	}
	return svc, nil
}

// DefaultConsumer is a consumer name unique per process: host-pid-random.
func DefaultConsumer() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Runner is a long-running service: Run calls ready once it works, and
// returns when ctx is done.
type Runner interface {
	Run(ctx context.Context, ready func()) error
}

// Start runs svc in the background and waits until it is ready (at most
// timeout). stop cancels it and waits for Run to return, so that whatever
// it uses (the Redis client) outlives it.
func Start(ctx context.Context, svc Runner, timeout time.Duration, log *slog.Logger) (stop func(), err error) {
	ready := make(chan struct{})
	stop = Background(ctx, func(ctx context.Context) {
		if err := svc.Run(ctx, func() { close(ready) }); err != nil && ctx.Err() == nil && log != nil {
			log.Error("service stopped", "error", err)
		}
	})
	select {
	case <-ready:
		return stop, nil
	case <-time.After(timeout):
		stop()
		return nil, fmt.Errorf("the service did not start within %s", timeout)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// Background runs loop in a goroutine; stop cancels its context and waits
// for it to return.
func Background(ctx context.Context, loop func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx)
	}()
	return func() { cancel(); <-done }
}
