package bench

// The soak: plans at a steady rate for long enough that retention reaches
// its steady state, with Redis memory sampled as it goes. Every retention
// of the apply layer is shortened to one window (Window): the execution
// records and done markers live that long (the record TTL), acknowledged
// plans are trimmed after it and results by age after it (retention.go,
// run every HousekeepEvery), and the paper venue forgets its orders after
// it. Memory should grow for one window and then stay flat; what still
// grows after that is a leak of the retention.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
)

// Defaults of SoakOptions.
const (
	DefaultSoakDuration   = 12 * time.Minute
	DefaultSoakRate       = 200
	DefaultSoakWindow     = 2 * time.Minute
	DefaultSoakFreshness  = 30 * time.Second
	DefaultSoakHousekeep  = 10 * time.Second
	DefaultSoakSampleEach = 10 * time.Second
	// FlatTolerance is the largest relative difference between the mean
	// memory of the first and the last third of the steady state that
	// still counts as flat. With the defaults (about 50 MB at steady state,
	// the thirds' middles some 390 s apart) 1% is about 1.3 KB/s, a leak
	// of 7 bytes per plan at 200 plans/s; a smaller one shows in the slope
	// only.
	FlatTolerance = 0.01
)

// SoakOptions configures Soak. Zero values take the defaults above.
type SoakOptions struct {
	Duration       time.Duration // the whole run of sending; at least three windows
	Rate           float64       // plans per second, open loop
	Window         time.Duration // every retention: record TTL, plan trim, result age, paper orders
	Freshness      time.Duration // the apply layer's freshness window, at most Window/2
	HousekeepEvery time.Duration // how often the apply layer trims (applylayer.HousekeepEvery)
	SampleEvery    time.Duration // how often Redis INFO memory is read
	Log            *slog.Logger
	// Progress, when set, receives each sample as it is taken.
	Progress func(Sample)
}

// Sample is one reading of Redis during the soak.
type Sample struct {
	AtSec       float64 `json:"t_s"`
	Plans       int64   `json:"plans_sent"`
	Results     int64   `json:"results_read"`
	UsedMemory  int64   `json:"used_memory"`
	Keys        int64   `json:"keys"` // DBSIZE
	PlanLen     int64   `json:"plan_stream_len"`
	ResultLen   int64   `json:"result_stream_len"`
	PaperOrders int64   `json:"paper_orders"` // the paper venue's order index
}

// SoakReport is what a soak measured.
type SoakReport struct {
	Rate           float64 `json:"rate_per_s"`
	DurationSec    float64 `json:"duration_s"`
	WindowSec      float64 `json:"window_s"`
	HousekeepSec   float64 `json:"housekeep_every_s"`
	Plans          int64   `json:"plans_sent"`
	Results        int64   `json:"results_read"`
	Executed       int64   `json:"executed"`
	Denied         int64   `json:"denied"`
	BaselineMemory int64   `json:"baseline_used_memory"`
	// BytesPerPlan is the growth of used_memory from the baseline to the
	// last sample before the window ends (nothing expired yet) divided by
	// the plans sent by then; PaperBytesPerPlan is the paper venue's
	// share of it (MEMORY USAGE of its order hashes and index at that
	// sample), which a deployment on Binance does not keep.
	BytesPerPlan      float64 `json:"bytes_per_plan"`
	PaperBytesPerPlan float64 `json:"paper_bytes_per_plan"`
	// PlanStreamBytesPerPlan and ResultStreamBytesPerPlan are the plan and
	// result streams' MEMORY USAGE (SAMPLES 0: every entry) at that sample
	// over the plans sent; the rest of BytesPerPlan is the execution
	// records, done markers and client order id index (keys with a TTL).
	PlanStreamBytesPerPlan   float64 `json:"plan_stream_bytes_per_plan"`
	ResultStreamBytesPerPlan float64 `json:"result_stream_bytes_per_plan"`
	// BytesPerPlanFit is the slope of used_memory over plans sent across
	// the samples before the window ends (a least-squares fit): the same
	// figure without the fixed cost of the first plans (stream and
	// connection buffers, script cache).
	BytesPerPlanFit float64 `json:"bytes_per_plan_fit"`
	// SteadyFromSec is where the steady state is taken to start (the
	// window plus two housekeeping passes); SteadyFirst and SteadyLast are
	// the mean used_memory of its first and last thirds, Drift their
	// relative difference, SlopeBytesPerSec a least-squares fit over it.
	SteadyFromSec    float64  `json:"steady_from_s"`
	SteadyFirst      int64    `json:"steady_first_third_used_memory"`
	SteadyLast       int64    `json:"steady_last_third_used_memory"`
	Drift            float64  `json:"steady_drift"`
	SlopeBytesPerSec float64  `json:"steady_slope_bytes_per_s"`
	Flat             bool     `json:"flat"`
	Samples          []Sample `json:"samples"`
}

func (o *SoakOptions) defaults() error {
	d := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	d(&o.Duration, DefaultSoakDuration)
	d(&o.Window, DefaultSoakWindow)
	d(&o.Freshness, DefaultSoakFreshness)
	d(&o.HousekeepEvery, DefaultSoakHousekeep)
	d(&o.SampleEvery, DefaultSoakSampleEach)
	if o.Rate <= 0 {
		o.Rate = DefaultSoakRate
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Duration < 3*o.Window:
		return fmt.Errorf("bench soak: --duration %s under three windows (%s): no steady state to compare", o.Duration, 3*o.Window)
	case 2*o.Freshness > o.Window:
		return fmt.Errorf("bench soak: --freshness %s over half the window %s (the record TTL must be at least twice the freshness)", o.Freshness, o.Window)
	case o.SampleEvery > o.Window/3:
		return fmt.Errorf("bench soak: --sample-every %s over a third of the window %s", o.SampleEvery, o.Window)
	}
	return nil
}

// Soak runs the soak against rdb, under a scratch prefix deleted
// afterwards. It sets applylayer.HousekeepEvery for the run and restores it
// after the apply layer stopped. INFO memory is the whole server's: run it
// on a Redis of its own.
func Soak(ctx context.Context, rdb redis.UniversalClient, opt SoakOptions) (*SoakReport, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	ks, err := scratch()
	if err != nil {
		return nil, err
	}
	defer cleanup(context.WithoutCancel(ctx), rdb, ks)
	prevHousekeep := applylayer.HousekeepEvery
	applylayer.HousekeepEvery = opt.HousekeepEvery
	defer func() { applylayer.HousekeepEvery = prevHousekeep }()
	stopLayer, err := startApplyLayer(ctx, rdb, ks, layer{replicas: 1, recordTTL: opt.Window, freshness: opt.Freshness, orderRetention: opt.Window})
	if err != nil {
		return nil, err
	}
	defer stopLayer() // before the restore above: defers run last first

	rep := &SoakReport{Rate: opt.Rate, DurationSec: opt.Duration.Seconds(), WindowSec: opt.Window.Seconds(), HousekeepSec: opt.HousekeepEvery.Seconds()}
	var sent, read, executed, denied atomic.Int64
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	readerErr := make(chan error, 1)
	go tailResults(rctx, rdb, ks.ApplyResult(), readerErr, func(m redis.XMessage, _ time.Time) {
		read.Add(1)
		switch plan.ParseResult(m.Values).Decision {
		case plan.Executed:
			executed.Add(1)
		case plan.Denied:
			denied.Add(1)
		}
	})

	start := time.Now()
	sample := func() (Sample, error) {
		s := Sample{AtSec: time.Since(start).Seconds(), Plans: sent.Load(), Results: read.Load()}
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			return s, fmt.Errorf("bench soak: INFO memory: %w", err)
		}
		if s.UsedMemory, err = infoInt(info, "used_memory"); err != nil {
			return s, err
		}
		pipe := rdb.Pipeline()
		keys, pl, rl, po := pipe.DBSize(ctx), pipe.XLen(ctx, ks.ApplyPlan()), pipe.XLen(ctx, ks.ApplyResult()), pipe.ZCard(ctx, ks.Key("paper:orders"))
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return s, fmt.Errorf("bench soak: sample: %w", err)
		}
		s.Keys, s.PlanLen, s.ResultLen, s.PaperOrders = keys.Val(), pl.Val(), rl.Val(), po.Val()
		return s, nil
	}
	base, err := sample()
	if err != nil {
		return nil, err
	}
	rep.BaselineMemory = base.UsedMemory
	rep.Samples = append(rep.Samples, base)

	sendErr := make(chan error, 1)
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		interval := time.Duration(float64(time.Second) / opt.Rate)
		for i := 0; ; i++ {
			due := start.Add(time.Duration(i) * interval)
			if due.Sub(start) >= opt.Duration {
				return
			}
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-sendCtx.Done():
					return
				}
			}
			if _, err := producer.Send(sendCtx, rdb, ks, signed(benchPlan(i))); err != nil {
				if sendCtx.Err() == nil {
					sendErr <- err
				}
				return
			}
			sent.Add(1)
		}
	}()

	paperMeasured := false
	tick := time.NewTicker(opt.SampleEvery)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-sendDone:
			running = false
		case err := <-sendErr:
			return nil, fmt.Errorf("bench soak: send: %w", err)
		case err := <-readerErr:
			return nil, fmt.Errorf("bench soak: read results: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
			s, err := sample()
			if err != nil {
				return nil, err
			}
			rep.Samples = append(rep.Samples, s)
			if opt.Progress != nil {
				opt.Progress(s)
			}
			// The last sample before the window ends: nothing has expired
			// or been trimmed yet, so the growth is all the plans'.
			if s.AtSec <= opt.Window.Seconds() && s.Plans > 0 {
				rep.BytesPerPlan = float64(s.UsedMemory-base.UsedMemory) / float64(s.Plans)
			}
			if !paperMeasured && s.AtSec+opt.SampleEvery.Seconds() > opt.Window.Seconds() && s.Plans > 0 {
				paperMeasured = true
				perPlan := func(b int64) float64 { return float64(b) / float64(s.Plans) }
				if b, err := paperBytes(ctx, rdb, ks.Key("paper:order:*"), ks.Key("paper:orders")); err == nil {
					rep.PaperBytesPerPlan = perPlan(b)
				} else {
					opt.Log.Warn("bench soak: the paper venue's memory could not be read", "error", err)
				}
				pb, perr := rdb.MemoryUsage(ctx, ks.ApplyPlan(), 0).Result()
				rb, rerr := rdb.MemoryUsage(ctx, ks.ApplyResult(), 0).Result()
				if err := errors.Join(perr, rerr); err != nil {
					opt.Log.Warn("bench soak: the streams' memory could not be read", "error", err)
				} else {
					rep.PlanStreamBytesPerPlan, rep.ResultStreamBytesPerPlan = perPlan(pb), perPlan(rb)
				}
			}
		}
	}
	// Every plan sent must have its result.
	deadline := time.Now().Add(60 * time.Second)
	for read.Load() < sent.Load() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	rep.Plans, rep.Results, rep.Executed, rep.Denied = sent.Load(), read.Load(), executed.Load(), denied.Load()
	if rep.Results < rep.Plans {
		return rep, fmt.Errorf("bench soak: %d of %d plans without a result 60s after the last send", rep.Plans-rep.Results, rep.Plans)
	}
	rep.steady(opt)
	opt.Log.Info("soak measured", "bytes_per_plan", rep.BytesPerPlan, "steady_drift", rep.Drift, "flat", rep.Flat)
	return rep, nil
}

// steady computes the steady-state figures from the samples.
func (r *SoakReport) steady(opt SoakOptions) {
	r.SteadyFromSec = (opt.Window + 2*opt.HousekeepEvery).Seconds()
	var st, growing []Sample
	for _, s := range r.Samples {
		if s.AtSec >= r.SteadyFromSec {
			st = append(st, s)
		}
		if s.AtSec > 0 && s.AtSec <= opt.Window.Seconds() {
			growing = append(growing, s)
		}
	}
	if len(growing) >= 2 {
		r.BytesPerPlanFit = slope(growing, func(s Sample) float64 { return float64(s.Plans) })
	}
	if len(st) < 3 {
		return
	}
	third := len(st) / 3
	mean := func(ss []Sample) int64 {
		var sum int64
		for _, s := range ss {
			sum += s.UsedMemory
		}
		return sum / int64(len(ss))
	}
	r.SteadyFirst, r.SteadyLast = mean(st[:third]), mean(st[len(st)-third:])
	r.Drift = float64(r.SteadyLast-r.SteadyFirst) / float64(r.SteadyFirst)
	r.SlopeBytesPerSec = slope(st, func(s Sample) float64 { return s.AtSec })
	r.Flat = r.Drift <= FlatTolerance && r.Drift >= -FlatTolerance
}

// slope fits used_memory = a + slope*x(s) by least squares.
func slope(ss []Sample, x func(Sample) float64) float64 {
	var sx, sy, sxx, sxy float64
	for _, s := range ss {
		x, y := x(s), float64(s.UsedMemory)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(ss))
	if den := n*sxx - sx*sx; den != 0 {
		return (n*sxy - sx*sy) / den
	}
	return 0
}

// paperBytes sums MEMORY USAGE of a sample of the paper venue's order
// hashes, scaled to their number, plus its index.
func paperBytes(ctx context.Context, rdb redis.UniversalClient, orderPattern, index string) (int64, error) {
	n, err := rdb.ZCard(ctx, index).Result()
	if err != nil {
		return 0, err
	}
	idx, err := rdb.MemoryUsage(ctx, index).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	var sampled, sum int64
	iter := rdb.Scan(ctx, 0, orderPattern, 200).Iterator()
	for iter.Next(ctx) && sampled < 200 {
		b, err := rdb.MemoryUsage(ctx, iter.Val()).Result()
		if err != nil {
			continue // expired between SCAN and MEMORY USAGE
		}
		sampled, sum = sampled+1, sum+b
	}
	if err := iter.Err(); err != nil {
		return 0, err
	}
	if sampled == 0 {
		return idx, nil
	}
	return idx + sum*n/sampled, nil
}

// infoInt reads an integer field of an INFO reply.
func infoInt(info, field string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("bench soak: INFO has no %s", field)
}

// WriteText writes the report for people: the samples as a table, then the
// figures.
func (r *SoakReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "t_s\tplans_sent\tresults\tused_memory\tMiB\tkeys\tplan_stream\tresult_stream\tpaper_orders")
	for _, s := range r.Samples {
		fmt.Fprintf(tw, "%.0f\t%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t%d\n", s.AtSec, s.Plans, s.Results, s.UsedMemory, float64(s.UsedMemory)/(1<<20), s.Keys, s.PlanLen, s.ResultLen, s.PaperOrders)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "rate_per_s\t%.0f (achieved %.1f)\n", r.Rate, float64(r.Plans)/r.DurationSec)
	fmt.Fprintf(tw, "duration_s\t%.0f\n", r.DurationSec)
	fmt.Fprintf(tw, "window_s\t%.0f (record TTL, plan trim, result age, paper orders; housekeeping every %.0fs)\n", r.WindowSec, r.HousekeepSec)
	fmt.Fprintf(tw, "plans\t%d sent, %d results (%d executed, %d denied)\n", r.Plans, r.Results, r.Executed, r.Denied)
	fmt.Fprintf(tw, "baseline_used_memory\t%d\n", r.BaselineMemory)
	fmt.Fprintf(tw, "bytes_per_plan\t%.0f (of which the paper venue's orders %.0f, the plan stream %.0f, the result stream %.0f)\n",
		r.BytesPerPlan, r.PaperBytesPerPlan, r.PlanStreamBytesPerPlan, r.ResultStreamBytesPerPlan)
	fmt.Fprintf(tw, "bytes_per_plan_fit\t%.0f (slope over the samples before the window ends)\n", r.BytesPerPlanFit)
	fmt.Fprintf(tw, "steady state from\t%.0fs\n", r.SteadyFromSec)
	fmt.Fprintf(tw, "steady first third\t%d (%.1f MiB)\n", r.SteadyFirst, float64(r.SteadyFirst)/(1<<20))
	fmt.Fprintf(tw, "steady last third\t%d (%.1f MiB)\n", r.SteadyLast, float64(r.SteadyLast)/(1<<20))
	fmt.Fprintf(tw, "steady drift\t%+.2f%% (slope %+.0f bytes/s)\n", 100*r.Drift, r.SlopeBytesPerSec)
	verdict := "yes"
	if !r.Flat {
		verdict = fmt.Sprintf("NO: the drift is over %.0f%%", 100*FlatTolerance)
	}
	fmt.Fprintf(tw, "flat\t%s\n", verdict)
	return tw.Flush()
}
