package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

func init() {
	register(&command{
		name:    "apply-layer",
		summary: "run the order gateway: gate every plan, execute exactly once, record one result each",
		help: `Consumes quantum:stream:apply.plan in a consumer group (any number of replicas
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
first; docs/binance.md is the guide.`,
		run: runApplyLayer,
	})
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// applyFlags are the flags shared by apply-layer and bench apply.
type applyFlags struct {
	keyring, pubkeys, exitOwner, breakGlass, auth, venue string
	prices                                               stringList
	group, consumer                                      string
	batch                                                int64
	claimIdle, freshness, recordTTL                      time.Duration
	binance                                              binanceFlags
}

func (a *applyFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&a.keyring, "keyring", getenv("QUANTUM_KEYRING"), "producers' keyring `FILE`: one \"SOURCE SECRET\" line each, mode 0600 (env QUANTUM_KEYRING)")
	fs.StringVar(&a.pubkeys, "pubkey", getenv("QUANTUM_POLICY_PUBKEY"), "trusted policy public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	fs.StringVar(&a.exitOwner, "exit-owner", envOr(getenv, "QUANTUM_EXIT_OWNER", gate.DefaultExitOwner), "the only `source` that may close positions (env QUANTUM_EXIT_OWNER)")
	fs.StringVar(&a.breakGlass, "break-glass", getenv("QUANTUM_BREAK_GLASS"), "other `sources` that may close positions, comma-separated, each with its own key (env QUANTUM_BREAK_GLASS)")
	fs.StringVar(&a.auth, "auth", "required", "`required` or off: off accepts unsigned plans, only to migrate producers")
	fs.StringVar(&a.venue, "exchange", envOr(getenv, "QUANTUM_EXCHANGE", "paper"), "`venue`: paper (simulated, state in Redis) or binance (env QUANTUM_EXCHANGE)")
	for _, p := range secretfile.SplitList(getenv("QUANTUM_PAPER_PRICES")) {
		a.prices = append(a.prices, p)
	}
	fs.Var(&a.prices, "paper-price", "mark price of the paper venue, `SYMBOL=PRICE` (repeatable; env QUANTUM_PAPER_PRICES, comma-separated); a symbol without one is rejected")
	a.binance.register(fs, getenv)
	fs.StringVar(&a.group, "group", applylayer.DefaultGroup, "consumer `group` name")
	fs.StringVar(&a.consumer, "consumer", "", "consumer `name` (default: host-pid-random, unique per process)")
	fs.Int64Var(&a.batch, "batch", applylayer.DefaultBatch, "plans read per batch")
	fs.DurationVar(&a.claimIdle, "claim-idle", applylayer.DefaultClaimIdle, "claim plans left pending this long by a dead consumer")
	fs.DurationVar(&a.freshness, "freshness", applylayer.DefaultFreshness, "accept plans whose timestamp is within ± this of now")
	fs.DurationVar(&a.recordTTL, "record-ttl", applylayer.DefaultRecordTTL, "how long execution records (replay protection, exactly-once) are kept")
}

// build wires a Service from the flags. reg receives the venue's metrics;
// --exchange binance reaches the venue here (Open: time offset, position
// mode, filters) and refuses to start when it cannot.
func (a *applyFlags) build(ctx context.Context, c *invocation, rdb redisClient, reg prometheus.Registerer) (*applylayer.Service, error) {
	authOff := false
	switch a.auth {
	case "required":
	case "off":
		authOff = true
	default:
		return nil, fmt.Errorf("--auth %q: want required or off", a.auth)
	}
	var keyring *plan.Secrets
	if a.keyring != "" {
		var err error
		if keyring, err = plan.LoadSecrets(a.keyring); err != nil {
			return nil, err
		}
	} else if !authOff {
		return nil, errors.New("--keyring FILE (or QUANTUM_KEYRING) is required unless --auth off")
	}
	paths := secretfile.SplitList(a.pubkeys)
	if len(paths) == 0 {
		return nil, errors.New("--pubkey FILE (or QUANTUM_POLICY_PUBKEY) is required: without trusted policy keys every plan would be denied")
	}
	ring, err := policy.LoadTrustedKeys(paths...)
	if err != nil {
		return nil, err
	}
	if !plan.ValidSource(a.exitOwner) {
		return nil, fmt.Errorf("--exit-owner %q is not a source name", a.exitOwner)
	}
	breakGlass := map[string]bool{}
	for _, s := range secretfile.SplitList(a.breakGlass) {
		if keyring != nil {
			if _, ok := keyring.Secret(s); !ok {
				return nil, fmt.Errorf("--break-glass source %s has no key in the keyring", s)
			}
		}
		breakGlass[s] = true
	}
	if keyring != nil {
		if _, ok := keyring.Secret(a.exitOwner); !ok {
			c.logger().Warn("the exit owner has no key in the keyring: no position can be closed", "exit_owner", a.exitOwner)
		}
	}
	venue, err := a.openVenue(ctx, c, rdb, reg)
	if err != nil {
		return nil, err
	}
	now := c.env.clock()
	store, err := policystore.New(rdb, policystore.Options{Keys: c.keys(), Keyring: ring, Now: now})
	if err != nil {
		return nil, err
	}
	consumer := a.consumer
	if consumer == "" {
		consumer = defaultConsumer()
	}
	return applylayer.New(rdb, store, venue, applylayer.Config{
		Keys: c.keys(), Group: a.group, Consumer: consumer, Batch: a.batch,
		ClaimIdle: a.claimIdle, RecordTTL: a.recordTTL, Freshness: a.freshness,
		Keyring: keyring, AuthOff: authOff,
		Gate: gate.Config{ExitOwner: a.exitOwner, BreakGlass: breakGlass, Freshness: a.freshness},
		Now:  now, Log: c.logger(),
	})
}

// openVenue returns the venue of --exchange.
func (a *applyFlags) openVenue(ctx context.Context, c *invocation, rdb redisClient, reg prometheus.Registerer) (exchange.Venue, error) {
	switch a.venue {
	case "paper":
		prices := map[string]string{}
		for _, p := range a.prices {
			sym, price, err := paper.ParsePrice(p)
			if err != nil {
				return nil, fmt.Errorf("--paper-price: %w", err)
			}
			prices[sym] = price
		}
		return paper.New(rdb, c.keys(), prices)
	case "binance":
		if len(a.prices) > 0 {
			return nil, errors.New("--paper-price applies to --exchange paper only: Binance has its own mark prices")
		}
		cfg, err := a.binance.config(c)
		if err != nil {
			return nil, err
		}
		if reg != nil {
			cfg.Metrics = binance.NewMetrics(reg)
		}
		// Replicas share the rate limiter's windows and back-off in Redis.
		// Open logs the LIVE banner when the URL is Binance's live host.
		cfg.Limiter = binance.NewRedisLimiter(rdb, c.keys().Prefix())
		return binance.Open(ctx, cfg)
	default:
		return nil, fmt.Errorf("--exchange %q: want paper or binance", a.venue)
	}
}

func defaultConsumer() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

func runApplyLayer(ctx context.Context, c *invocation) int {
	var a applyFlags
	a.register(c.fs, c.env.getenv)
	metricsAddr := c.fs.String("metrics-addr", envOr(c.env.getenv, "QUANTUM_METRICS_ADDR", "127.0.0.1:9108"), "`address` of /metrics and /healthz (port 0: any free port; empty: none) (env QUANTUM_METRICS_ADDR)")
	if code, ok := c.parse(0); !ok {
		return code
	}
	log := c.logger()
	rdb, err := c.redisBlocking()
	if err != nil {
		return c.errorf("%v", err)
	}
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := a.build(ctx, c, rdb, reg)
	if err != nil {
		fmt.Fprintf(c.env.stderr, "quantum apply-layer: %v\n", err)
		return exitUsage
	}
	svc.SetMetrics(applylayer.NewMetrics(reg, a.auth == "off"))

	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return c.errorf("--metrics-addr: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
			healthz(w, svc, a.auth)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("metrics listening", "addr", ln.Addr().String())
	}

	ready := func() {
		daemon.SdNotify(false, daemon.SdNotifyReady)
		if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
			go watchdog(ctx, svc, interval)
		}
	}
	if err := svc.Run(ctx, ready); err != nil {
		return c.errorf("%v", err)
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	return exitOK
}

// watchdog feeds systemd's watchdog while the consume loop is alive.
func watchdog(ctx context.Context, svc *applylayer.Service, interval time.Duration) {
	t := time.NewTicker(interval / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if svc.Healthy(interval) {
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}
}

func healthz(w http.ResponseWriter, svc *applylayer.Service, auth string) {
	body := map[string]any{"auth": auth, "policy": "ok"}
	status := http.StatusOK
	if code := svc.PolicyStatus(); code != "" {
		body["policy"] = code // fail-closed: every plan is denied, but the service itself is up
	}
	if auth == "off" {
		body["warning"] = "AUTH OFF: plan sources are not authenticated"
	}
	if svc.Healthy(30 * time.Second) {
		body["status"] = "ok"
	} else {
		body["status"] = "stalled"
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
