package applylayer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the apply layer's Prometheus metrics.
type Metrics struct {
	plans           *prometheus.CounterVec
	gateSeconds     prometheus.Histogram
	exchangeSeconds prometheus.Histogram
	lag             prometheus.Gauge
	pending         prometheus.Gauge
	policyAge       prometheus.Gauge
	redisErrors     prometheus.Counter
	authOff         prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer, authOff bool) *Metrics {
	m := &Metrics{
		plans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_apply_plans_total", Help: "Plans finished, by result decision and reason code.",
		}, []string{"decision", "reason"}),
		gateSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quantum_apply_gate_seconds", Help: "Time in the pure gate per check (authentication, then policy and the rest).",
			Buckets: prometheus.ExponentialBuckets(1e-7, 4, 10),
		}),
		exchangeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quantum_apply_exchange_seconds", Help: "Time the venue took to place an order.",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_consumer_lag", Help: "Plans in the stream not yet delivered to the group (XINFO GROUPS lag).",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_pending", Help: "Plans delivered to the group and not yet acknowledged.",
		}),
		policyAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_policy_age_seconds", Help: "Age of the policy in use (now - issued_at_epoch).",
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quantum_apply_redis_errors_total", Help: "Redis failures of the consume loop (each waited out and retried).",
		}),
		authOff: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_auth_off", Help: "1 when plan sources are NOT authenticated (--auth off).",
		}),
	}
	reg.MustRegister(m.plans, m.gateSeconds, m.exchangeSeconds, m.lag, m.pending, m.policyAge, m.redisErrors, m.authOff)
	if authOff {
		m.authOff.Set(1)
	}
	return m
}
