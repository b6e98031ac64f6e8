package watch

import (
	"context"
	"time"

	"github.com/quantumtrader/quantum/internal/loop"
)

// Runner is one check (*Watcher).
type Runner interface {
	Run(ctx context.Context) (*Report, error)
}

// Loop runs r at once and then every interval until ctx is done, as the
// timer does for `quantum exit-owner watch` (the first run at once, unlike
// refresh.Loop: a watch that starts has nothing published to wait for, and
// its first heartbeat says it is alive). A failed run does not stop the
// loop: Run has logged it and recorded it in the heartbeat, and the next
// tick tries again. Loop returns when ctx is done, after any run in
// progress has returned.
func Loop(ctx context.Context, r Runner, interval time.Duration) {
	// Run logs, alerts and records every outcome itself.
	loop.Every(ctx, interval, true, func(ctx context.Context) { _, _ = r.Run(ctx) })
}
