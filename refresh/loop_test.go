package refresh_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

// countingRunner counts runs; every other run fails, as a refused refresh.
type countingRunner struct{ runs atomic.Int64 }

func (c *countingRunner) Run(context.Context) (*refresh.Report, error) {
	if c.runs.Add(1)%2 == 0 {
		return &refresh.Report{Code: reason.PolicyInvalid}, reason.Errorf(reason.PolicyInvalid, "refused")
	}
	return &refresh.Report{}, nil
}

// TestLoop: on a fake clock, the loop runs every interval whatever the
// outcome (48 runs in 24 hours, the first after one interval) and returns
// once its context is done.
func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r := &countingRunner{}
		done := make(chan struct{})
		go func() { refresh.Loop(ctx, r, 30*time.Minute); close(done) }()
		time.Sleep(29 * time.Minute)
		synctest.Wait()
		if n := r.runs.Load(); n != 0 {
			t.Fatalf("%d runs before the first interval", n)
		}
		time.Sleep(24*time.Hour - 28*time.Minute)
		synctest.Wait()
		if n := r.runs.Load(); n != 48 {
			t.Fatalf("%d runs in 24h01m, want 48", n)
		}
		cancel()
		<-done
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := r.runs.Load(); n != 48 {
			t.Fatalf("%d runs after the loop stopped, want 48", n)
		}
	})
}
