package bench

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/quantumtrader/quantum/internal/texttable"
)

// WriteText writes the report as `quantum bench apply` prints it: one
// aligned "name value" line per figure.
func (r *Report) WriteText(w io.Writer) error {
	tw := texttable.New(w)
	fmt.Fprintf(tw, "mode\t%s\n", r.Mode)
	fmt.Fprintf(tw, "replicas\t%d\n", r.Replicas)
	if r.Baseline {
		fmt.Fprintf(tw, "baseline\tthe bare loop, no apply layer\n")
	}
	fmt.Fprintf(tw, "plans\t%d (%d executed, %d denied)\n", r.Plans, r.Executed, r.Denied)
	fmt.Fprintf(tw, "throughput_per_s\t%.0f\n", r.ThroughputPerS)
	fmt.Fprintf(tw, "p50_ms\t%.3f\n", r.P50ms)
	fmt.Fprintf(tw, "p99_ms\t%.3f\n", r.P99ms)
	fmt.Fprintf(tw, "p999_ms\t%.3f\n", r.P999ms)
	fmt.Fprintf(tw, "max_ms\t%.3f\n", r.MaxMs)
	fmt.Fprintf(tw, "ceiling_per_s\t%.0f\n", r.CeilingPerS)
	fmt.Fprintf(tw, "throughput/ceiling\t%.2f\n", r.ThroughputPerS/r.CeilingPerS)
	return tw.Flush()
}

// CPUProfile writes a CPU profile of everything until stop to path (go
// tool pprof).
func CPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
