// Package bench measures the apply layer end to end: plans XADDed to a real
// Redis, consumed, gated and executed by an in-process apply layer against
// the paper venue, results read back. It reports throughput and latency
// percentiles (plan XADD to result read), and, in the same run, the ceiling:
// a bare go-redis loop issuing the same Redis command mix per plan with no
// logic, so a figure is read against what the Redis and the machine allow.
//
// Everything happens under a scratch key prefix (bench-<random>) that is
// deleted afterwards; production keys are never touched.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/producer"
)

// Options configures a run.
type Options struct {
	Plans       int     // how many plans
	Rate        float64 // plans per second, open loop; 0: closed loop
	Concurrency int     // closed loop: plans in flight
	Replicas    int     // apply-layer replicas sharing the group (default 1)
	// Baseline drives the bare loop (see bareConsumer) instead of the apply
	// layer, in the same mode: the latency the machine and Redis impose on
	// this command mix with no logic at all.
	Baseline bool
	// Exposure sets every exposure limit and the loss stop, all too wide
	// to deny: the account reads and reservations they cost (issue 15).
	Exposure bool
	Log      *slog.Logger
}

// Report is what a run measured. The JSON names are the ones
// `quantum bench apply --json` prints.
type Report struct {
	Plans          int     `json:"plans"`
	Mode           string  `json:"mode"`
	Baseline       bool    `json:"baseline,omitempty"`
	Exposure       bool    `json:"exposure,omitempty"` // every exposure limit set (Options.Exposure)
	Rate           float64 `json:"rate_per_s,omitempty"`
	Concurrency    int     `json:"concurrency,omitempty"`
	Replicas       int     `json:"replicas"`
	ThroughputPerS float64 `json:"throughput_per_s"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	P999ms         float64 `json:"p999_ms"`
	MaxMs          float64 `json:"max_ms"`
	CeilingPerS    float64 `json:"ceiling_per_s"`
	Executed       int     `json:"executed"`
	Denied         int     `json:"denied"`
}

var benchSecrets = map[string][]byte{
	"bench_producer": []byte("bench-producer-secret-0123456789abcdef0123"),
	"exitbrain_v3_5": []byte("bench-exitbrain-secret-0123456789abcdef012"),
	"bench_rogue":    []byte("bench-rogue-secret-0123456789abcdef0123456"),
}

// Apply runs the benchmark against rdb.
func Apply(ctx context.Context, rdb redis.UniversalClient, opt Options) (*Report, error) {
	if opt.Plans <= 0 {
		return nil, errors.New("bench: --plans must be positive")
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 64
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	opt.Replicas = max(opt.Replicas, 1)
	ks, err := scratch()
	if err != nil {
		return nil, err
	}
	defer cleanup(context.WithoutCancel(ctx), rdb, ks)

	svcCtx, stopSvc := context.WithCancel(ctx)
	defer stopSvc()
	if opt.Baseline {
		go bareConsumer(svcCtx, rdb, ks)
	} else if stop, err := startApplyLayer(svcCtx, rdb, ks, layer{replicas: opt.Replicas, exposure: opt.Exposure}); err != nil {
		return nil, err
	} else {
		defer stop()
	}
	rep := &Report{Plans: opt.Plans, Concurrency: opt.Concurrency, Mode: "closed", Baseline: opt.Baseline, Replicas: opt.Replicas, Exposure: opt.Exposure}
	if opt.Rate > 0 {
		rep.Mode, rep.Rate, rep.Concurrency = "open", opt.Rate, 0
	}
	lat, elapsed, counts, err := drive(ctx, rdb, ks, opt, func(i int) map[string]string { return benchPlan(i) })
	if err != nil {
		return nil, err
	}
	stopSvc()
	rep.ThroughputPerS = float64(opt.Plans) / elapsed.Seconds()
	rep.P50ms, rep.P99ms, rep.P999ms, rep.MaxMs = pct(lat, 0.50), pct(lat, 0.99), pct(lat, 0.999), pct(lat, 1)
	rep.Executed, rep.Denied = counts[string(plan.Executed)], counts[string(plan.Denied)]
	opt.Log.Info("apply layer measured", "throughput_per_s", rep.ThroughputPerS, "p99_ms", rep.P99ms)

	// The ceiling, in the same run: closed loop at the same concurrency.
	cks, err := scratch()
	if err != nil {
		return nil, err
	}
	defer cleanup(context.WithoutCancel(ctx), rdb, cks)
	cctx, stopCeil := context.WithCancel(ctx)
	defer stopCeil()
	go bareConsumer(cctx, rdb, cks)
	copt := opt
	copt.Rate = 0
	_, celapsed, _, err := drive(ctx, rdb, cks, copt, func(i int) map[string]string { return benchPlan(i) })
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	rep.CeilingPerS = float64(opt.Plans) / celapsed.Seconds()
	return rep, nil
}

func scratch() (keys.Space, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return keys.Space{}, err
	}
	return keys.New("bench-" + hex.EncodeToString(b))
}

// cleanup deletes every key of the scratch prefix.
func cleanup(ctx context.Context, rdb redis.UniversalClient, ks keys.Space) {
	iter := rdb.Scan(ctx, 0, ks.Prefix()+":*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}

// layer is what startApplyLayer starts.
type layer struct {
	replicas int
	exposure bool
	// recordTTL and freshness are the apply layer's (its defaults when 0);
	// orderRetention is the paper venue's (its default when 0).
	recordTTL, freshness, orderRetention time.Duration
}

// startApplyLayer publishes the bench policy and starts l.replicas apply
// layers sharing the group (each its own consumer and Redis connections
// from the shared pool), running until ctx is done or stop is called (stop
// returns when they have stopped).
func startApplyLayer(ctx context.Context, rdb redis.UniversalClient, ks keys.Space, l layer) (stop func(), err error) {
	key, err := policy.GenerateKey()
	if err != nil {
		return nil, err
	}
	store, err := policystore.New(rdb, policystore.Options{Keys: ks, Keyring: policy.NewTrustedKeys(key.Public()), Now: time.Now})
	if err != nil {
		return nil, err
	}
	content := &policy.Content{
		UniverseSymbols: []string{"BTCUSDT"}, LeverageBySymbol: map[string]float64{"BTCUSDT": 10},
		HarvestParams: map[string]float64{}, KillParams: map[string]float64{},
		PolicyVersion: "bench", TradingState: policy.StateActive,
	}
	if l.exposure {
		content.MaxPositionNotionalUSDTBySymbol = map[string]float64{"BTCUSDT": 1e12}
		content.MaxGrossExposureUSDT, content.MaxOpenPositions, content.MaxDailyLossUSDT = 1e12, 10, 1e12
	}
	if _, _, err := store.SignAndPublish(ctx, content, key, policystore.Release{Validity: time.Hour, Generator: "bench", Actor: "bench"}); err != nil {
		return nil, fmt.Errorf("bench policy: %w", err)
	}
	venue, err := paper.New(rdb, ks, map[string]string{"BTCUSDT": "65000"})
	if err != nil {
		return nil, err
	}
	if l.orderRetention > 0 {
		if venue, err = venue.WithRetention(l.orderRetention); err != nil {
			return nil, err
		}
	}
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	for i := range l.replicas {
		svc, err := app.NewApplyLayer(app.ApplyLayerOptions{
			Redis: rdb, Keys: ks, Venue: venue, Trusted: policy.NewTrustedKeys(key.Public()), Secrets: plan.NewSecrets(benchSecrets),
			ExitOwner: gate.DefaultExitOwner, Consumer: "bench-" + strconv.Itoa(i), Block: 100 * time.Millisecond, Batch: 64, Now: time.Now,
			RecordTTL: l.recordTTL, Freshness: l.freshness,
		})
		if err != nil {
			stop()
			return nil, err
		}
		// The service runs until ctx, the whole bench run, is done.
		s, err := app.Start(ctx, svc, 10*time.Second, nil)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, s)
	}
	return stop, nil
}

// benchPlan returns plan i, unsigned: mostly entries, every fourth a
// hostile exit that the gate denies.
func benchPlan(i int) map[string]string {
	src, side, reduce := "bench_producer", "BUY", "false"
	if i%4 == 3 {
		src, side, reduce = "bench_rogue", "SELL", "true"
	}
	return map[string]string{
		plan.FieldPlanID: "b" + strconv.Itoa(i), plan.FieldDecision: string(plan.Execute), plan.FieldSymbol: "BTCUSDT",
		plan.FieldSide: side, plan.FieldType: string(market.Market), plan.FieldQty: "0.001", plan.FieldReduceOnly: reduce,
		plan.FieldSource: src, plan.FieldAction: "BENCH",
	}
}

// drive sends the plans and returns each plan's latency (XADD to result),
// the time from the first send to the last result, and results by decision.
func drive(ctx context.Context, rdb redis.UniversalClient, ks keys.Space, opt Options, mk func(int) map[string]string) ([]time.Duration, time.Duration, map[string]int, error) {
	n := opt.Plans
	sentAt := make([]time.Time, n)
	lat := make([]time.Duration, n)
	var got atomic.Int64
	done := make(chan struct{})
	counts := map[string]int{}
	waiters := make([]chan struct{}, n)
	for i := range waiters {
		waiters[i] = make(chan struct{})
	}
	var sentMu sync.Mutex
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	readerErr := make(chan error, 1)
	go tailResults(rctx, rdb, ks.ApplyResult(), readerErr, func(m redis.XMessage, now time.Time) {
		r := plan.ParseResult(m.Values)
		i, err := strconv.Atoi(strings.TrimPrefix(r.PlanID, "b"))
		if err != nil || i < 0 || i >= n {
			return
		}
		sentMu.Lock()
		lat[i] = now.Sub(sentAt[i])
		sentMu.Unlock()
		counts[string(r.Decision)]++
		close(waiters[i])
		if got.Add(1) == int64(n) {
			close(done)
		}
	})
	send := func(i int, at time.Time) error {
		f := signed(mk(i))
		sentMu.Lock()
		sentAt[i] = at
		sentMu.Unlock()
		_, err := producer.Send(ctx, rdb, ks, f)
		return err
	}
	start := time.Now()
	errs := make(chan error, 1)
	if opt.Rate > 0 {
		// Open loop: plan i is due at start + i/rate, sent whether or not
		// earlier ones are done; latency counts from when it was due, so a
		// stall is not hidden (no coordinated omission).
		interval := time.Duration(float64(time.Second) / opt.Rate)
		var wg sync.WaitGroup
		for i := range n {
			due := start.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := send(i, due); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}()
		}
		wg.Wait()
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range opt.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n || ctx.Err() != nil {
						return
					}
					if err := send(i, time.Now()); err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
					select {
					case <-waiters[i]:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	select {
	case err := <-errs:
		return nil, 0, nil, fmt.Errorf("send: %w", err)
	default:
	}
	select {
	case <-done:
	case err := <-readerErr:
		return nil, 0, nil, fmt.Errorf("read results: %w", err)
	case <-time.After(60 * time.Second):
		return nil, 0, nil, fmt.Errorf("bench: only %d of %d results within 60s of the last send", got.Load(), n)
	case <-ctx.Done():
		return nil, 0, nil, ctx.Err()
	}
	elapsed := time.Since(start)
	stopReader()
	return lat, elapsed, counts, nil
}

// tailResults reads stream from its start until ctx is done, calling each
// for every entry with the time it was read; a read error before ctx is
// done is sent to errc.
func tailResults(ctx context.Context, rdb redis.UniversalClient, stream string, errc chan<- error, each func(m redis.XMessage, at time.Time)) {
	last := "0-0"
	for ctx.Err() == nil {
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, last}, Count: 1000, Block: 100 * time.Millisecond}).Result()
		now := time.Now()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				errc <- err
			}
			return
		}
		for _, m := range res[0].Messages {
			last = m.ID
			each(m, now)
		}
	}
}

// signed stamps f with the current time and signs it with its source's
// bench secret.
func signed(f map[string]string) map[string]string {
	f[plan.FieldTimestamp] = strconv.FormatInt(time.Now().Unix(), 10)
	return plan.SignFields(f, benchSecrets[f[plan.FieldSource]])
}

func pct(lat []time.Duration, q float64) float64 {
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}
