package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "apply-layer",
		Summary: "run the order gateway: gate every plan, execute exactly once, record one result each",
		Help: `Consumes quantum:stream:apply.plan in a consumer group (any number of replicas
may share it), gates every plan (authentication, replay and freshness, policy,
trading state, universe, leverage, exit ownership, reduce-only, limits), places
allowed orders exactly once at the venue, and writes one result per plan to
quantum:stream:apply.result before acknowledging it. Only --exit-owner (and
--break-glass sources) may close positions: reduceOnly plans and any
opposite-side plan from another source are denied DENY_NOT_EXIT_OWNER.

Serves /metrics (Prometheus) and /healthz on --metrics-addr. Under systemd
(Type=notify) it reports READY and feeds the watchdog. SIGTERM finishes the
plans in hand, then exits 0. docs/apply-layer.md is the operator guide.

--exchange binance trades Binance USD-M futures at --binance-url (testnet by
default) with the key and secret of QUANTUM_BINANCE_API_KEY and
QUANTUM_BINANCE_API_SECRET or their _FILE variables; it refuses to start in
hedge mode or when the venue cannot be reached. Run 'quantum exchange check'
first; docs/binance.md is the guide.

Migrating from the Python executor (docs/migration.md): in enforce mode the
apply layer refuses to start (exit 1) while another consumer group on the
plan stream (intent_executor, governor, p33, ...) has a consumer served
within --foreign-live-within, naming each: that executor would place every
plan again. --allow-foreign-groups starts anyway, logged as an error.
--mode shadow consumes in group apply_layer_shadow, decides every plan as
enforce mode would (on the venue's live positions and marks), writes the
results it would have written to quantum:stream:apply.shadow and never
places, sets leverage or changes anything at the venue; it runs beside the
old executor.`,
		Run: runApplyLayer,
	})
}

// applyFlags are the flags shared by apply-layer and bench apply.
type applyFlags struct {
	keyring, pubkeys, exitOwner, breakGlass, auth, venue string
	proofSource, planEncodings, resultKey                string
	prices, steps                                        cli.StringList
	group, consumer                                      string
	batch                                                int64
	claimIdle, freshness, recordTTL, replicaWait         time.Duration
	paperRetention                                       time.Duration
	minReplicas                                          int
	binance                                              binanceFlags
	shadow                                               bool // --mode shadow (apply-layer only)
}

func (a *applyFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&a.keyring, "keyring", getenv("QUANTUM_KEYRING"), "producers' keyring `FILE`: one \"SOURCE SECRET\" line each, mode 0600 (env QUANTUM_KEYRING)")
	fs.StringVar(&a.pubkeys, "pubkey", getenv("QUANTUM_POLICY_PUBKEY"), "trusted policy public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	fs.StringVar(&a.exitOwner, "exit-owner", cli.EnvOr(getenv, "QUANTUM_EXIT_OWNER", gate.DefaultExitOwner), "the only `source` that may close positions (env QUANTUM_EXIT_OWNER)")
	fs.StringVar(&a.breakGlass, "break-glass", getenv("QUANTUM_BREAK_GLASS"), "other `sources` that may close positions, comma-separated, each with its own key (env QUANTUM_BREAK_GLASS)")
	fs.StringVar(&a.proofSource, "proof-source", cli.EnvOr(getenv, "QUANTUM_PROOF_SOURCE", gate.DefaultProofSource), "the only `source` that may send canary plans, and only canaries (env QUANTUM_PROOF_SOURCE)")
	fs.StringVar(&a.planEncodings, "plan-encodings", cli.EnvOr(getenv, plan.EncodingsEnv, "v2"), "plan signature `encodings` accepted: v2, or v1,v2 while producers move (docs/producers.md) (env "+plan.EncodingsEnv+")")
	fs.StringVar(&a.resultKey, "result-key", getenv("QUANTUM_RESULT_KEY"), "`FILE` (mode 0600, one line of hex: openssl rand -hex 32) whose key authenticates every result; the watch, status and proofs verify with it (env QUANTUM_RESULT_KEY)")
	fs.StringVar(&a.auth, "auth", "required", "`required` or off: off accepts unsigned plans, only to migrate producers")
	a.registerVenue(fs, getenv)
	fs.StringVar(&a.group, "group", applylayer.DefaultGroup, "consumer `group` name")
	fs.StringVar(&a.consumer, "consumer", "", "consumer `name` (default: host-pid-random, unique per process)")
	fs.Int64Var(&a.batch, "batch", applylayer.DefaultBatch, "plans read per batch")
	fs.DurationVar(&a.claimIdle, "claim-idle", applylayer.DefaultClaimIdle, "claim plans left pending this long by a dead consumer")
	fs.DurationVar(&a.freshness, "freshness", applylayer.DefaultFreshness, "accept plans whose timestamp is within ± this of now")
	fs.IntVar(&a.minReplicas, "min-replicas", cli.EnvInt(getenv, "QUANTUM_MIN_REPLICAS", 0), "execution records must reach this many Redis replicas (WAIT, once per batch) before any order of the batch; a plan whose record does not is FAILED REDIS_NOT_REPLICATED, not sent (env QUANTUM_MIN_REPLICAS)")
	fs.DurationVar(&a.replicaWait, "replica-wait", applylayer.DefaultReplicaWait, "how long a batch waits for --min-replicas")
	fs.DurationVar(&a.recordTTL, "record-ttl", applylayer.DefaultRecordTTL, "how long execution records (replay protection, exactly-once) are kept")
}

// config is the apply layer of the flags, for app.RunApplyLayer (which
// checks and loads them).
func (a *applyFlags) config(c *cli.Invocation, rdb cli.RedisClient) app.ApplyLayerConfig {
	return app.ApplyLayerConfig{
		Keyring: a.keyring, Pubkeys: a.pubkeys, PolicyEncodings: c.Env.Getenv(policy.EncodingsEnv), Auth: a.auth,
		PlanEncodings: a.planEncodings, ResultKey: a.resultKey, ExitOwner: a.exitOwner, BreakGlass: a.breakGlass,
		ProofSource: a.proofSource, Venue: a.venueConfig(c), Group: a.group, Consumer: a.consumer, Batch: a.batch,
		ClaimIdle: a.claimIdle, Freshness: a.freshness, RecordTTL: a.recordTTL, MinReplicas: a.minReplicas,
		ReplicaWait: a.replicaWait, Shadow: a.shadow, Redis: rdb, Keys: c.Keys(), Now: c.Env.Clock(), Log: c.Logger(),
	}
}

func runApplyLayer(ctx context.Context, c *cli.Invocation) int {
	var a applyFlags
	a.register(c.FS, c.Env.Getenv)
	var m modeFlags
	m.register(c.FS, c.Env.Getenv)
	metricsAddr := c.FS.String("metrics-addr", cli.EnvOr(c.Env.Getenv, "QUANTUM_METRICS_ADDR", "127.0.0.1:9108"), "`address` of /metrics and /healthz (port 0: any free port; empty: none) (env QUANTUM_METRICS_ADDR)")
	allowUnsafe := c.FS.Bool(redischeck.AllowFlag, redischeck.Allowed(c.Env.Getenv(redischeck.AllowEnv)), redischeck.AllowUsage)
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if err := m.check(); err != nil {
		return c.UsageErr("%v", err)
	}
	a.shadow = m.mode == modeShadow
	rdb, err := c.RedisBlocking()
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer rdb.Close()
	err = app.RunApplyLayer(ctx, app.DaemonOptions{ApplyLayer: a.config(c, rdb), Guard: m.guard(c, rdb, a.group), MetricsAddr: *metricsAddr, AllowUnsafeRedis: *allowUnsafe})
	if errors.As(err, new(*app.ConfigError)) {
		return configErr(c, err)
	} else if err != nil {
		return c.Errorf("%v", err)
	}
	return cli.ExitOK
}

// openVenue opens the venue of --exchange with the paper and Binance flags.
func (a *applyFlags) openVenue(ctx context.Context, c *cli.Invocation, rdb cli.RedisClient, reg prometheus.Registerer) (exchange.Venue, error) {
	return a.venueConfig(c).Open(ctx, rdb, c.Keys(), reg, c.Logger())
}

func (a *applyFlags) venueConfig(c *cli.Invocation) app.VenueConfig {
	return app.VenueConfig{Kind: a.venue, Prices: a.prices, Steps: a.steps, Retention: a.paperRetention, RecordTTL: a.recordTTL,
		Binance: func() (binance.Config, error) { return a.binance.config(c) }}
}

// registerVenue defines the venue's flags (--exchange, the paper venue's
// prices and steps, Binance's), shared by apply-layer and reconcile.
func (a *applyFlags) registerVenue(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&a.venue, "exchange", cli.EnvOr(getenv, "QUANTUM_EXCHANGE", "paper"), "`venue`: paper (simulated, state in Redis) or binance (env QUANTUM_EXCHANGE)")
	a.prices = append(a.prices, secretfile.SplitList(getenv("QUANTUM_PAPER_PRICES"))...)
	fs.Var(&a.prices, "paper-price", "mark price of the paper venue, `SYMBOL=PRICE` (repeatable; env QUANTUM_PAPER_PRICES, comma-separated); a symbol without one is rejected")
	a.steps = append(a.steps, secretfile.SplitList(getenv("QUANTUM_PAPER_STEPS"))...)
	fs.Var(&a.steps, "paper-step", "quantity step of the paper venue, `SYMBOL=STEP` (repeatable; env QUANTUM_PAPER_STEPS, comma-separated); quantities are rounded down to it; default: Binance's for common symbols, 0.001 for others")
	fs.DurationVar(&a.paperRetention, "paper-order-retention", paper.DefaultOrderRetention, "how long the paper venue holds an order and dedupes its client order id, then forgets it (at least --record-ttl)")
	a.binance.register(fs, getenv)
}
