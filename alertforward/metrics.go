package alertforward

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the forwarder's Prometheus metrics. A nil *Metrics records
// nothing. The rules in deploy/prometheus key on quantum_alerts_firing for
// the alert types that have no metric of their own where they are raised
// (POLICY_REFRESH_FAILED, PLAN_STREAM_TAMPERED, RESULT_FORGED, ...).
type Metrics struct {
	forwardedTotal *prometheus.CounterVec
	failures       *prometheus.CounterVec
	resends        prometheus.Counter
	redisErrors    prometheus.Counter
	lastForwarded  prometheus.Gauge
	firing         *firingCollector
}

// NewMetrics registers the forwarder's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		forwardedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_alerts_forwarded_total",
			Help: "Alert entries delivered to every target and acknowledged, by alert_type and status (firing, resolved).",
		}, []string{"alert_type", "status"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_alerts_send_failures_total",
			Help: "Failed POSTs (no answer or not 2xx), by target URL (scheme://host/path); each is retried.",
		}, []string{"target"}),
		resends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quantum_alerts_resent_total",
			Help: "Firing alerts re-sent to an Alertmanager (so that resolve_timeout does not resolve them).",
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quantum_alerts_forward_redis_errors_total",
			Help: "Redis failures of the forwarder (each waited out and retried).",
		}),
		lastForwarded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_alerts_last_forwarded_timestamp_seconds",
			Help: "Unix time of the last alert entry delivered and acknowledged.",
		}),
		firing: &firingCollector{desc: prometheus.NewDesc("quantum_alerts_firing",
			"Alerts firing (alert_ids whose last entry on the alert stream is firing), by alert_type and severity.",
			[]string{"alert_type", "severity"}, nil)},
	}
	reg.MustRegister(m.forwardedTotal, m.failures, m.resends, m.redisErrors, m.lastForwarded, m.firing)
	return m
}

func (m *Metrics) forwarded(alertType, status string, now time.Time) {
	if m == nil {
		return
	}
	m.forwardedTotal.WithLabelValues(alertType, status).Inc()
	m.lastForwarded.Set(float64(now.Unix()))
}

// addTarget starts a target's failure counter at 0, so that increase()
// sees its first failure.
func (m *Metrics) addTarget(target string) {
	if m != nil {
		m.failures.WithLabelValues(target)
	}
}

func (m *Metrics) sendFailed(target string) {
	if m != nil {
		m.failures.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) resent(n int) {
	if m != nil {
		m.resends.Add(float64(n))
	}
}

func (m *Metrics) redisError() {
	if m != nil {
		m.redisErrors.Inc()
	}
}

func (m *Metrics) firingFunc(f func() map[[2]string]int) {
	if m != nil {
		m.firing.set(f)
	}
}

// firingCollector reports the firing set at scrape time.
type firingCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	f    func() map[[2]string]int
}

func (c *firingCollector) set(f func() map[[2]string]int) { c.mu.Lock(); c.f = f; c.mu.Unlock() }

func (c *firingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *firingCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	f := c.f
	c.mu.Unlock()
	if f == nil {
		return
	}
	for k, n := range f() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
