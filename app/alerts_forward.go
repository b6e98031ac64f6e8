package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alertforward"
	"github.com/quantumtrader/quantum/redismon"
	"github.com/quantumtrader/quantum/watch"
)

// AlertsForward is `quantum alerts forward`: the forwarder, its metrics
// and, as a daemon, its /metrics and /healthz and systemd notifications.
type AlertsForward struct {
	fwd *alertforward.Forwarder
	reg *prometheus.Registry
	rdb redis.UniversalClient
	cfg alertforward.Config
	log *slog.Logger
}

// NewAlertsForward checks cfg and builds the forwarder on rdb. cfg.Redis
// and cfg.Metrics are set here; an empty cfg.Consumer is the host name (so
// a restart finds its own pending entries), or "alerts-forward" when the
// host has none. An error is a bad configuration.
func NewAlertsForward(rdb redis.UniversalClient, cfg alertforward.Config) (*AlertsForward, error) {
	if cfg.Consumer == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "alerts-forward"
		}
		cfg.Consumer = host
	}
	a := &AlertsForward{reg: prometheus.NewRegistry(), rdb: rdb, log: cfg.Log}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	cfg.Redis, cfg.Metrics = rdb, alertforward.NewMetrics(a.reg)
	fwd, err := alertforward.New(cfg)
	if err != nil {
		return nil, err
	}
	a.fwd, a.cfg = fwd, cfg
	return a, nil
}

// Drain forwards what is pending and new, then returns (`--once`): how
// many entries it forwarded, and why it stopped early.
func (a *AlertsForward) Drain(ctx context.Context) (int, error) {
	n, err := a.fwd.Drain(ctx)
	if err != nil {
		return n, fmt.Errorf("%d entr(ies) forwarded, then: %w", n, err)
	}
	a.log.Info(alertforward.Tag+" drained", "forwarded", n)
	return n, nil
}

// Run forwards until ctx is done, serving /metrics (the forwarder's
// counters, the firing alerts by type, the watch's heartbeats and Redis
// memory) and /healthz on metricsAddr ("" for none), and telling systemd
// READY once forwarding and STOPPING at the end.
func (a *AlertsForward) Run(ctx context.Context, metricsAddr string) error {
	if metricsAddr != "" {
		a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			redismon.New(a.rdb, a.cfg.Keys, []string{watch.JobTimer, watch.JobFollow}))
		addr, stop, err := ServeMetrics(metricsAddr, a.reg, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok"}` + "\n"))
		})
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer stop()
		a.log.Info("metrics listening", "addr", addr)
	}
	if err := a.fwd.Run(ctx, func() { daemon.SdNotify(false, daemon.SdNotifyReady) }); err != nil {
		return err
	}
	NotifyStopping()
	return nil
}

// Serve is Drain when once (the forwarded count dropped), else Run.
func (a *AlertsForward) Serve(ctx context.Context, once bool, metricsAddr string) error {
	if once {
		_, err := a.Drain(ctx)
		return err
	}
	return a.Run(ctx, metricsAddr)
}
