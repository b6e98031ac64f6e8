package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantumtrader/quantum/applylayer"
)

// Serve serves /metrics (reg) and /healthz (svc) on addr ("host:0": any
// free port) until close is called. It returns the address it listens on.
func Serve(addr string, reg prometheus.Gatherer, h Health) (bound string, close func(), err error) {
	return ServeMetrics(addr, reg, func(w http.ResponseWriter, r *http.Request) { Healthz(w, h) })
}

// Health is what /healthz reports on.
type Health struct {
	Service *applylayer.Service
	AuthOff bool
	// Redis holds the findings of the Redis configuration check at start
	// (allowed with --allow-unsafe-redis, or warnings): shown, never hidden.
	Redis []string
}

// HealthReadWithin is how long /healthz tolerates the plan stream being
// unreadable before it says so (a read blocks at most a second or so).
const HealthReadWithin = 10 * time.Second

// Healthz answers a health probe: 200 while the consume loop runs and reads
// the plan stream, 503 when it stalled or cannot read plans. A refused policy is reported but keeps the service "ok": it
// is up and fail-closed, denying every plan.
func Healthz(w http.ResponseWriter, h Health) {
	svc, authOff := h.Service, h.AuthOff
	auth := "required"
	if authOff {
		auth = "off"
	}
	body := map[string]any{"auth": auth, "policy": "ok"}
	status := http.StatusOK
	if code := svc.PolicyStatus(); code != "" {
		body["policy"] = code
	}
	if authOff {
		body["warning"] = "AUTH OFF: plan sources are not authenticated"
	}
	body["redis"] = "ok"
	if len(h.Redis) > 0 {
		body["redis"] = h.Redis
	}
	switch {
	case !svc.Healthy(30 * time.Second):
		body["status"] = "stalled"
		status = http.StatusServiceUnavailable
	case !svc.Reading(HealthReadWithin):
		body["status"] = "plans unreadable" // Redis down, a permission or the group lost: nothing is served
		status = http.StatusServiceUnavailable
	default:
		body["status"] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// NotifyReady tells systemd (Type=notify) that the service is ready and,
// when the unit has a watchdog, feeds it while svc is healthy, until ctx
// is done. Outside systemd it does nothing.
func NotifyReady(ctx context.Context, svc *applylayer.Service) {
	daemon.SdNotify(false, daemon.SdNotifyReady)
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		go watchdog(ctx, svc, interval)
	}
}

// NotifyStopping tells systemd the service is stopping.
func NotifyStopping() { daemon.SdNotify(false, daemon.SdNotifyStopping) }

// watchdog feeds systemd's watchdog while the consume loop is alive.
func watchdog(ctx context.Context, svc *applylayer.Service, interval time.Duration) {
	t := time.NewTicker(interval / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if svc.Healthy(interval) {
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}
}
