package main

import (
	"bytes"
	"context"
	_ "embed"
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
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/refresh"
	"github.com/quantumtrader/quantum/watch"
)

//go:embed dev_policy.json
var devPolicyJSON []byte

func init() {
	register(&command{
		name:    "dev",
		summary: "run the system in one process on an embedded Redis, for a first look",
		help: `Starts an embedded Redis-protocol server (miniredis) on 127.0.0.1:--port with
throwaway keys, creates a throwaway signing key, publishes the embedded default
policy, and runs the whole system in this process until Ctrl-C: the apply layer
(consumer "dev") on the paper venue, the policy refresh, the exit-owner watch,
and a traffic simulator.

The simulator sends --rate plans per second, each signed with its source's
throwaway key (written to the temporary directory for 'quantum plan send'):
intent_bridge opens positions, exitbrain_v3_5 closes them, and rogue_service
tries a reduceOnly close, an opposite-side close, a plan claiming
source=exitbrain_v3_5 signed with its own key, and an unsigned plan: every
one of those is denied, and the watch raises EXIT_OWNER_VIOLATION.

A summary (plans by decision, denials by reason, alerts firing, policy seq and
age, positions) is redrawn every --summary-interval in a terminal; when stdout
is not a terminal it is printed as a block every --summary-interval, and the
live policy is checked every --check-interval the way the apply layer does, a
line printed whenever the verdict changes.

An in-process refresh loop (the same code as 'quantum policy refresh' under
its timer) publishes the default policy again every --refresh-interval, so
the policy stays fresh and 'quantum policy audit' grows; a tampered policy is
replaced at the next refresh. --refresh-interval 0 turns the loop off.

An in-process exit-owner watch (the same code as 'quantum exit-owner watch'
under its timer) counts DENY_NOT_EXIT_OWNER results of the last 5 minutes
every --watch-interval, raises EXIT_OWNER_VIOLATION on the alert stream and
records its heartbeat. --watch-interval 0 turns it off.

Try tampering with it from another terminal (one-shot redis-cli commands work;
redis-cli's interactive mode does not, with miniredis):

  redis-cli -p 6379 HSET quantum:policy:current trading_state HALTED

and watch the verdict turn to POLICY_HASH_MISMATCH: nothing substitutes a
default. With --redis URL given on the command line, a real Redis is used
instead, under the prefix quantum-dev unless --prefix is given: the
QUANTUM_REDIS_URL variable is ignored here, so a production setting in your
shell never points the demo at production. Its keys stay under that prefix
after exit (the header says how to remove them); nothing outside the prefix
is written.

In a terminal, the header (key paths and commands to try, each working as
typed from the repository's root) stays on top of every redraw.`,
		run: runDev,
	})
}

func runDev(ctx context.Context, c *invocation) int {
	port := c.fs.Int("port", 6379, "port of the embedded Redis on 127.0.0.1 (0: any free port)")
	validity := c.fs.Duration("validity", 2*time.Hour, "validity of the published policy")
	every := c.fs.Duration("check-interval", time.Second, "how often the live policy is checked")
	refreshEvery := c.fs.Duration("refresh-interval", time.Minute, "how often the in-process refresh republishes the policy (0: never)")
	watchEvery := c.fs.Duration("watch-interval", 10*time.Second, "how often the in-process exit-owner watch runs (0: never)")
	rate := c.fs.Float64("rate", 2, "simulated plans per second (0: no traffic)")
	summaryEvery := c.fs.Duration("summary-interval", 2*time.Second, "how often the summary is redrawn (in a terminal) or printed")
	if code, ok := c.parse(0); !ok {
		return code
	}
	if *rate < 0 || *rate > 1000 || *summaryEvery <= 0 || *every <= 0 {
		fmt.Fprintln(c.env.stderr, "quantum dev: want 0 <= --rate <= 1000, --summary-interval > 0 and --check-interval > 0")
		return exitUsage
	}
	out := c.env.stdout
	term := isTerminal(out)
	if term && !c.flagSet("log-level") {
		// The summary tells what the logs would; they would scroll it away.
		c.g.logLevel = "error"
	}
	log := c.logger()
	var rdb *redis.Client
	var where string
	if c.flagSet("redis") {
		var err error
		if rdb, err = c.redis(); err != nil {
			return c.errorf("%v", err)
		}
		if !c.flagSet("prefix") {
			c.g.prefix = "quantum-dev"
		}
		where = "Redis at " + redactURL(c.g.redisURL)
	} else {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr(fmt.Sprintf("127.0.0.1:%d", *port)); err != nil {
			return c.errorf("embedded Redis on 127.0.0.1:%d: %v (is a Redis already running there? use --port)", *port, err)
		}
		defer m.Close()
		rdb = redis.NewClient(&redis.Options{Addr: m.Addr()})
		where = "embedded Redis (miniredis) on " + m.Addr()
	}
	defer rdb.Close()
	ks := keys.MustNew(c.g.prefix)

	dir, err := os.MkdirTemp("", "quantum-dev-")
	if err != nil {
		return c.errorf("%v", err)
	}
	defer os.RemoveAll(dir)
	key, err := policy.GenerateKey()
	if err != nil {
		return c.errorf("%v", err)
	}
	keyPath, pubPath, err := policy.WriteKeyPair(dir, key)
	if err != nil {
		return c.errorf("%v", err)
	}
	now := c.env.clock()
	store, err := policystore.New(rdb, policystore.Options{Keys: ks, Keyring: policy.NewKeyring(key.Public()), Now: now})
	if err != nil {
		return c.errorf("%v", err)
	}
	content, err := policy.ParseContent(bytes.NewReader(devPolicyJSON))
	if err != nil {
		return c.errorf("embedded default policy: %v", err)
	}
	sp, _, err := store.SignAndPublish(ctx, content, key, policystore.Release{Validity: *validity, Generator: "quantum dev", Actor: "quantum dev"})
	if err != nil {
		return c.errorf("publish the default policy: %v", err)
	}
	log.Info("dev policy published", "policy_seq", sp.Seq, "policy_hash", sp.Hash, "key_id", sp.KeyID)
	refreshLine := "off (--refresh-interval 0)"
	if *refreshEvery > 0 {
		stop, err := startDevRefresh(ctx, rdb, store, key, devRefreshOptions{log: log, now: now, validity: *validity, every: *refreshEvery})
		if err != nil {
			return c.errorf("refresh loop: %v", err)
		}
		defer stop()
		refreshLine = fmt.Sprintf("every %s by the in-process refresh loop (quantum policy audit shows each run)", *refreshEvery)
	}
	watchLine := "off (--watch-interval 0)"
	if *watchEvery > 0 {
		stop, err := startDevWatch(ctx, rdb, ks, log, now, *watchEvery)
		if err != nil {
			return c.errorf("exit-owner watch loop: %v", err)
		}
		defer stop()
		watchLine = fmt.Sprintf("every %s by the in-process exit-owner watch (heartbeat %s)", *watchEvery, ks.Heartbeat(watch.JobTimer))
	}
	secrets, err := devSecrets(dir)
	if err != nil {
		return c.errorf("%v", err)
	}
	venue, err := paper.New(rdb, ks, devPrices)
	if err != nil {
		return c.errorf("paper venue: %v", err)
	}
	stopApply, err := startDevApplyLayer(ctx, rdb, store, venue, secrets, log, now)
	if err != nil {
		return c.errorf("apply layer: %v", err)
	}
	defer stopApply()
	trafficLine := "off (--rate 0)"
	if *rate > 0 {
		sim := &simulator{rdb: rdb, ks: ks, venue: venue, secrets: secrets, now: now, log: log, rng: rand.New(rand.NewPCG(uint64(now().UnixNano()), 8))}
		defer background(ctx, func(ctx context.Context) { sim.loop(ctx, *rate) })()
		trafficLine = fmt.Sprintf("%g plans/s: %s opens, %s closes, %s tries reduceOnly and opposite-side closes, a spoofed %s and unsigned plans",
			*rate, simEntry, gate.DefaultExitOwner, simRogue, gate.DefaultExitOwner)
	}

	cli := "redis-cli -u " + c.g.redisURL
	redisURL := c.g.redisURL
	if !c.flagSet("redis") {
		addr := rdb.Options().Addr
		redisURL = "redis://" + addr + "/0"
		cli = "redis-cli -p " + addr[strings.LastIndex(addr, ":")+1:]
	}
	header := devHeader{where: where, redisURL: redisURL, cli: cli, ks: ks, dir: dir, pubPath: pubPath, realRedis: c.flagSet("redis")}.String()
	fmt.Fprintf(out, `%s
signing key  %s
published    policy_version=%s policy_seq=%d policy_hash=%s
refreshed    %s
watched      %s
apply layer  consumer "dev" of group apply_layer, paper venue (prices %s)
traffic      %s

Live policy verdict, as the apply layer would see it:
`, header, keyPath, sp.Version, sp.Seq, sp.Hash, refreshLine, watchLine, priceList(), trafficLine)

	sum := &devSummary{rdb: rdb, store: store, venue: venue, ring: policy.NewKeyring(key.Public()), now: now, started: now()}
	last := ""
	tick := time.NewTicker(*every)
	defer tick.Stop()
	sumTick := time.NewTicker(*summaryEvery)
	defer sumTick.Stop()
	for {
		if !term {
			line := verdictLine(ctx, store, now())
			if line != last {
				fmt.Fprintf(out, "%s %s\n", now().UTC().Format("15:04:05"), line)
				last = line
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "quantum dev: stopped")
			return exitOK
		case <-tick.C:
		case <-sumTick.C:
			var b bytes.Buffer
			if err := sum.render(ctx, &b); err != nil {
				if ctx.Err() != nil {
					continue
				}
				fmt.Fprintf(&b, "summary: could not read: %v\n", err)
			}
			if term { // one screen, redrawn, the header kept on top
				out.Write(redrawScreen(header, b.Bytes()))
			} else {
				out.Write(b.Bytes())
			}
		}
	}
}

// priceList renders the paper venue's marks.
func priceList() string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(devPrices)) {
		parts = append(parts, s+" "+devPrices[s])
	}
	return strings.Join(parts, ", ")
}

func verdictLine(ctx context.Context, store *policystore.Store, now time.Time) string {
	sp, err := store.Load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "stopping"
		}
		return fmt.Sprintf("DENY-ALL %s", err)
	}
	return fmt.Sprintf("OK policy_seq=%d trading_state=%s valid for %s", sp.Seq, sp.TradingState,
		sp.Remaining(now).Truncate(time.Minute))
}

type devRefreshOptions struct {
	log      *slog.Logger
	now      func() time.Time
	validity time.Duration
	every    time.Duration
}

// startDevRefresh runs the refresh loop in the background with the embedded
// policy as its template. stop ends the loop and waits for it to return, so
// that the Redis client outlives it.
func startDevRefresh(ctx context.Context, rdb *redis.Client, store *policystore.Store, key *policy.PrivateKey, o devRefreshOptions) (stop func(), err error) {
	alerts, err := alert.New(rdb, alert.Options{Keys: store.Keys(), Now: o.now})
	if err != nil {
		return nil, err
	}
	r, err := refresh.New(refresh.Config{
		Store: store, Alerts: alerts, Log: o.log, Now: o.now,
		Source: refresh.SourceFunc(func(context.Context) (*policy.Content, error) {
			return policy.ParseContent(bytes.NewReader(devPolicyJSON))
		}),
		Key:      func() (*policy.PrivateKey, error) { return key, nil },
		Validity: o.validity, Interval: o.every, Actor: "quantum dev",
	})
	if err != nil {
		return nil, err
	}
	return background(ctx, func(ctx context.Context) { refresh.Loop(ctx, r, o.every) }), nil
}

// background runs loop in a goroutine; stop cancels its context and waits
// for it to return, so that the Redis client outlives it.
func background(ctx context.Context, loop func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx)
	}()
	return func() { cancel(); <-done }
}

// startDevWatch runs the exit-owner watch loop in the background over the
// default 5-minute window, at once and then every interval (shorter than the
// timer's 5 minutes, so a denial made in the demo shows quickly). stop ends
// the loop and waits for it to return.
func startDevWatch(ctx context.Context, rdb *redis.Client, ks keys.Space, log *slog.Logger, now func() time.Time, every time.Duration) (stop func(), err error) {
	alerts, err := alert.New(rdb, alert.Options{Keys: ks, Now: now})
	if err != nil {
		return nil, err
	}
	w, err := watch.New(watch.Config{Redis: rdb, Alerts: alerts, Keys: ks, Log: log, Now: now, Interval: every})
	if err != nil {
		return nil, err
	}
	return background(ctx, func(ctx context.Context) { watch.Loop(ctx, w, every) }), nil
}
