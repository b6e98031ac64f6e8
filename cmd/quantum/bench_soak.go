package main

import (
	"context"

	"github.com/quantumtrader/quantum/bench"
	"github.com/quantumtrader/quantum/internal/cli"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "bench soak",
		Summary: "measure Redis memory per plan and at steady state under a steady plan rate",
		Help: `Sends --rate signed plans per second for --duration to the Redis of --redis
under a scratch prefix (bench-<random>, deleted afterwards), through an
in-process apply layer with the paper venue, with every retention shortened to
--window: execution records live that long (the record TTL), acknowledged plans
and results are trimmed after it (housekeeping every --housekeep-every), and the
paper venue forgets its orders after it. Redis INFO memory is sampled every
--sample-every.

Prints the samples and: bytes_per_plan (used_memory growth before the window
ends, over the plans sent by then), the mean used_memory of the first and last
thirds of the steady state (after the window and two housekeeping passes), their
drift and whether it is flat (within 1%). used_memory is the whole server's: run
it on a Redis of its own. Exit 1 when the memory is not flat. Figures and how
they were taken: docs/BENCHMARKS.md.`,
		Run: runBenchSoak,
	})
}

func runBenchSoak(ctx context.Context, c *cli.Invocation) int {
	var opt bench.SoakOptions
	c.FS.DurationVar(&opt.Duration, "duration", bench.DefaultSoakDuration, "how long plans are sent (at least three --window)")
	c.FS.Float64Var(&opt.Rate, "rate", bench.DefaultSoakRate, "plans per second, open loop")
	c.FS.DurationVar(&opt.Window, "window", bench.DefaultSoakWindow, "every retention of the run: record TTL, plan trim, result age, paper order retention")
	c.FS.DurationVar(&opt.Freshness, "freshness", bench.DefaultSoakFreshness, "the apply layer's freshness window (at most half --window)")
	c.FS.DurationVar(&opt.HousekeepEvery, "housekeep-every", bench.DefaultSoakHousekeep, "how often the apply layer trims plans and results")
	c.FS.DurationVar(&opt.SampleEvery, "sample-every", bench.DefaultSoakSampleEach, "how often Redis INFO memory is read")
	asJSON := c.FS.Bool("json", false, "print the report as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	return c.WithRedis(true, func(rdb cli.RedisClient) int {
		opt.Log = c.Logger()
		opt.Progress = bench.ProgressTo(c.Env.Stderr)
		rep, err := bench.Soak(ctx, rdb, opt)
		if err != nil {
			return c.Errorf("%v", err)
		}
		if *asJSON {
			cli.WriteJSON(c.Env.Stdout, rep)
		} else if err := rep.WriteText(c.Env.Stdout); err != nil {
			return c.Errorf("%v", err)
		}
		if !rep.Flat {
			return cli.ExitFail
		}
		return cli.ExitOK
	})
}
