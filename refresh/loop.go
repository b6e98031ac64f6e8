package refresh

import (
	"context"
	"time"

	"github.com/quantumtrader/quantum/internal/loop"
)

// Runner is one refresh (*Refresher).
type Runner interface {
	Run(ctx context.Context) (*Report, error)
}

// Loop runs r every interval until ctx is done, the first run one interval
// after the call (the caller publishes first if it needs a policy at once).
// A refused run does not stop the loop: like the timer, the next tick tries
// again, and Run has already logged, audited and alerted. Loop returns when
// ctx is done, after any run in progress has returned.
func Loop(ctx context.Context, r Runner, interval time.Duration) {
	// Run logs, audits and alerts every refusal itself.
	loop.Every(ctx, interval, false, func(ctx context.Context) { _, _ = r.Run(ctx) })
}
