package bench

import (
	"testing"
	"time"
)

// TestSteadyFigures: the steady-state figures tell a series that levels
// off after the window from one that keeps growing, and bytes per plan is
// the growth before the window over the plans.
func TestSteadyFigures(t *testing.T) {
	opt := SoakOptions{Window: 100 * time.Second, HousekeepEvery: 10 * time.Second}
	series := func(leak int64) *SoakReport {
		r := &SoakReport{}
		for sec := int64(0); sec <= 400; sec += 10 {
			plans := 200 * sec
			mem := 1_000_000 + 1500*min(plans, 200*100) + leak*sec
			r.Samples = append(r.Samples, Sample{AtSec: float64(sec), Plans: plans, UsedMemory: mem})
		}
		return r
	}
	flat := series(0)
	flat.steady(opt)
	if !flat.Flat || flat.Drift != 0 || flat.SlopeBytesPerSec != 0 || flat.BytesPerPlanFit != 1500 {
		t.Fatalf("a levelled series: flat=%v drift=%v slope=%v fit=%v", flat.Flat, flat.Drift, flat.SlopeBytesPerSec, flat.BytesPerPlanFit)
	}
	// 8 KiB/s more after the window (40 bytes per plan at 200/s): the last
	// third is about 5% over the first.
	leaky := series(8192)
	leaky.steady(opt)
	if leaky.Flat || leaky.Drift <= FlatTolerance || leaky.SlopeBytesPerSec < 8000 {
		t.Fatalf("a growing series: flat=%v drift=%v slope=%v", leaky.Flat, leaky.Drift, leaky.SlopeBytesPerSec)
	}
	if err := (&SoakOptions{Duration: time.Minute, Window: time.Minute}).defaults(); err == nil {
		t.Fatal("a soak of one window accepted")
	}
}
