package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

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
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return c.Errorf("%v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return c.Errorf("%v", err)
		}
		defer pprof.StopCPUProfile()
	}
	rdb, err := c.RedisBlocking()
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer rdb.Close()
	rep, err := bench.Apply(ctx, rdb, bench.Options{Plans: *plans, Rate: *rate, Concurrency: *conc, Replicas: *replicas, Baseline: *baseline, Exposure: *exposure, Log: c.Logger()})
	if err != nil {
		return c.Errorf("%v", err)
	}
	if *asJSON {
		return writeJSON(c.Env.Stdout, rep)
	}
	tw := cli.Table(c.Env.Stdout)
	fmt.Fprintf(tw, "mode\t%s\n", rep.Mode)
	fmt.Fprintf(tw, "replicas\t%d\n", rep.Replicas)
	if rep.Baseline {
		fmt.Fprintf(tw, "baseline\tthe bare loop, no apply layer\n")
	}
	fmt.Fprintf(tw, "plans\t%d (%d executed, %d denied)\n", rep.Plans, rep.Executed, rep.Denied)
	fmt.Fprintf(tw, "throughput_per_s\t%.0f\n", rep.ThroughputPerS)
	fmt.Fprintf(tw, "p50_ms\t%.3f\n", rep.P50ms)
	fmt.Fprintf(tw, "p99_ms\t%.3f\n", rep.P99ms)
	fmt.Fprintf(tw, "p999_ms\t%.3f\n", rep.P999ms)
	fmt.Fprintf(tw, "max_ms\t%.3f\n", rep.MaxMs)
	fmt.Fprintf(tw, "ceiling_per_s\t%.0f\n", rep.CeilingPerS)
	fmt.Fprintf(tw, "throughput/ceiling\t%.2f\n", rep.ThroughputPerS/rep.CeilingPerS)
	tw.Flush()
	return cli.ExitOK
}
