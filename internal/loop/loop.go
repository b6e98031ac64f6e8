// Package loop is the one periodic runner of the project's jobs that run
// in-process on a ticker (the policy refresh, the exit-owner watch), as
// their systemd timers run them from outside.
package loop

import (
	"context"
	"time"
)

// Every runs job every interval until ctx is done; with immediately, the
// first run is at once, else one interval after the call. A failed run does
// not stop the loop (the job has logged, audited or alerted it itself; like
// a timer, the next tick tries again). Every returns when ctx is done, after
// any run in progress has returned.
func Every(ctx context.Context, interval time.Duration, immediately bool, job func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	if immediately && ctx.Err() == nil {
		job(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			job(ctx)
		}
	}
}
