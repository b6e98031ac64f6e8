package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/migrate"
)

// DaemonOptions configures RunApplyLayer: `quantum apply-layer`.
type DaemonOptions struct {
	ApplyLayer ApplyLayerConfig // its Registerer is set by RunApplyLayer
	Guard      migrate.Guard    // the refusal to run beside another executor
	// MetricsAddr is the address of /metrics and /healthz ("": none).
	MetricsAddr string
	// AllowUnsafeRedis starts on a Redis without persistence or with key
	// eviction (redischeck.AllowFlag): quantum dev and tests only.
	AllowUnsafeRedis bool
}

// ConfigError is a refusal to start for the local configuration (keys,
// keyring, venue) or the Redis settings: the command's usage status.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// RunApplyLayer is the apply-layer daemon: it refuses to start beside a
// live foreign executor (opt.Guard), builds the service, checks Redis's
// settings (after the local configuration: those errors come first),
// serves metrics and health, watches for foreign groups, and runs until
// ctx ends; under systemd it reports READY and STOPPING. Errors of the
// configuration are *ConfigError.
func RunApplyLayer(ctx context.Context, opt DaemonOptions) error {
	log := opt.ApplyLayer.Log
	if msg, ok, err := opt.Guard.Check(ctx); err != nil {
		return fmt.Errorf("could not check the plan stream's consumer groups: %w", err)
	} else if !ok {
		return errors.New("refusing to start: " + msg)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := opt.ApplyLayer
	cfg.Registerer = reg
	svc, err := cfg.Build(ctx)
	if err != nil {
		return &ConfigError{err}
	}
	findings, err := redischeck.AwaitSafe(ctx, cfg.Redis, opt.AllowUnsafeRedis, log)
	if err != nil {
		return &ConfigError{err}
	}
	if opt.MetricsAddr != "" {
		addr, stop, err := Serve(opt.MetricsAddr, reg, Health{Service: svc, AuthOff: cfg.AuthOff(), Redis: findings})
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer stop()
		log.Info("metrics listening", "addr", addr)
	}
	defer Background(ctx, func(ctx context.Context) { opt.Guard.Watch(ctx, reg) })()
	if err := svc.Run(ctx, func() { NotifyReady(ctx, svc) }); err != nil {
		return err
	}
	NotifyStopping()
	return nil
}
