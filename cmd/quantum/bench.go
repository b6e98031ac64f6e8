package main

import (
	"context"

	"github.com/quantumtrader/quantum/bench"
	"github.com/quantumtrader/quantum/internal/cli"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "bench apply",
		Summary: "measure plan-to-result latency and throughput through real Redis and an in-process apply layer",
		Help: `Sends --plans signed plans to the Redis of --redis under a scratch prefix
(bench-<random>, deleted afterwards: production keys are never touched), through
an in-process apply layer with the paper venue, and reads the results back.
Closed loop (default): --concurrency plans in flight, as fast as they go.
Open loop: --rate plans per second on a fixed schedule, latency counted from
when each plan was due. In the same run it measures ceiling_per_s: a bare
go-redis loop with the same Redis command mix per plan and no logic.

Prints throughput_per_s, p50_ms, p99_ms, p999_ms and ceiling_per_s (--json for
machines). Figures and how they were taken: docs/BENCHMARKS.md.`,
		Run: runBenchApply,
	})
}

func runBenchApply(ctx context.Context, c *cli.Invocation) int {
	plans := c.FS.Int("plans", 20000, "how many plans")
	rate := c.FS.Float64("rate", 0, "plans per second, open loop (0: closed loop)")
	conc := c.FS.Int("concurrency", 64, "closed loop: plans in flight")
	replicas := c.FS.Int("replicas", 1, "apply-layer replicas sharing the consumer group (in this process, each its own consumer)")
	asJSON := c.FS.Bool("json", false, "print the report as JSON")
	baseline := c.FS.Bool("baseline", false, "drive the bare loop instead of the apply layer: what the machine and Redis alone allow")
	exposure := c.FS.Bool("exposure", false, "set every exposure limit and the daily loss stop in the bench policy (too wide to deny): what their account reads and reservations cost")
	cpuProfile := c.FS.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *cpuProfile != "" {
		stop, err := bench.CPUProfile(*cpuProfile)
		if err != nil {
			return c.Errorf("%v", err)
		}
		defer stop()
	}
	return c.WithRedis(true, func(rdb cli.RedisClient) int {
		rep, err := bench.Apply(ctx, rdb, bench.Options{Plans: *plans, Rate: *rate, Concurrency: *conc, Replicas: *replicas, Baseline: *baseline, Exposure: *exposure, Log: c.Logger()})
		if err != nil {
			return c.Errorf("%v", err)
		}
		if *asJSON {
			return cli.WriteJSON(c.Env.Stdout, rep)
		}
		rep.WriteText(c.Env.Stdout)
		return cli.ExitOK
	})
}
