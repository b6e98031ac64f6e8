package binance

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the adapter's Prometheus metrics.
type Metrics struct {
	requests     *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	backoffUntil prometheus.Gauge
	timeOffset   prometheus.Gauge
}

// NewMetrics registers the adapter's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_binance_requests_total",
			Help: "Binance REST requests by path and result (ok, rejected, unknown, unavailable, backoff).",
		}, []string{"path", "result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_binance_rate_limited_total",
			Help: "Answers that started a back-off: HTTP 429, 418 (IP ban) or code -1003, by HTTP status.",
		}, []string{"status"}),
		backoffUntil: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_binance_backoff_until_seconds",
			Help: "Unix time until which no request is sent (Retry-After of the last rate limit).",
		}),
		timeOffset: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_binance_time_offset_seconds",
			Help: "Server time minus local time, as last measured (GET /fapi/v1/time).",
		}),
	}
	reg.MustRegister(m.requests, m.rateLimited, m.backoffUntil, m.timeOffset)
	return m
}
