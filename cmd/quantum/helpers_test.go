package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
)

// startDevApplyLayer runs an apply layer as `quantum dev` does (consumer
// "dev", the default exit owner) in the background until it consumes; stop
// ends it and waits.
func startDevApplyLayer(ctx context.Context, rdb redis.UniversalClient, ks keys.Space, trusted *policy.TrustedKeys, venue exchange.Venue, secrets map[string][]byte) (stop func(), err error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := app.NewApplyLayer(app.ApplyLayerOptions{
		Redis: rdb, Keys: ks, Venue: venue, Trusted: trusted, Secrets: plan.NewSecrets(secrets),
		ExitOwner: gate.DefaultExitOwner, Consumer: "dev", Block: 200 * time.Millisecond, Now: time.Now, Log: log,
	})
	if err != nil {
		return nil, err
	}
	return app.Start(ctx, svc, 10*time.Second, log)
}
