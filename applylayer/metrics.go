package applylayer

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantumtrader/quantum/internal/planstream"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

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
	denials         *prometheus.CounterVec
	policyValid     prometheus.Gauge
	policyUntil     prometheus.Gauge
	tampered        *prometheus.CounterVec
	clockOffset     prometheus.Gauge
}

// OtherSource is the source label of a denial whose plan names a source the
// keyring does not know (or none): anyone can write any source, so only
// known names become label values, and the series stay bounded.
const OtherSource = "other"

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
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_apply_denials_total",
			Help: "Plans denied, by reason code and claimed source (a keyring source, the exit owner, or \"other\"); AUTH_INVALID under a known source is someone signing as it without its key.",
		}, []string{"reason", "source"}),
		policyValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_policy_valid", Help: "1 when the policy in use is verified and valid, 0 when it is refused or missing (every plan is denied).",
		}),
		policyUntil: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_policy_valid_until_seconds", Help: "valid_until_epoch of the policy in use (unix seconds); 0 when none is valid.",
		}),
		tampered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantum_apply_plan_stream_tampered_total",
			Help: "Tampering events found on the plan stream, by kind: deleted_unread, deleted_pending, future_id (PLAN_STREAM_TAMPERED).",
		}, []string{"kind"}),
		clockOffset: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantum_apply_clock_offset_seconds", Help: "Redis TIME minus this process's clock (CLOCK_SKEW beyond half the freshness window).",
		}),
	}
	reg.MustRegister(m.plans, m.gateSeconds, m.exchangeSeconds, m.lag, m.pending, m.policyAge, m.redisErrors, m.authOff,
		m.denials, m.policyValid, m.policyUntil, m.tampered, m.clockOffset)
	for _, k := range []string{planstream.DeletedUnread, planstream.DeletedPending, planstream.FutureID} {
		m.tampered.WithLabelValues(k) // a series from the start, for rate() and the rules
	}
	if authOff {
		m.authOff.Set(1)
	}
	return m
}

// finished counts one written result.
func (m *Metrics) finished(decision plan.Outcome, code reason.Code, source string) {
	m.plans.WithLabelValues(string(decision), string(code)).Inc()
	if decision == plan.Denied {
		m.denials.WithLabelValues(string(code), source).Inc()
	}
}

// metricSource is the source label of a plan's claimed source.
func (s *Service) metricSource(source string) string {
	if source == s.cfg.Gate.ExitOwner || s.cfg.Gate.BreakGlass[source] {
		return source
	}
	if s.cfg.Keyring != nil {
		if _, ok := s.cfg.Keyring.Secret(source); ok {
			return source
		}
	}
	return OtherSource
}

// observePolicy records the policy in use: its validity, its age and
// until when it is valid.
func (s *Service) observePolicy() {
	m := s.cfg.Metrics
	if m == nil {
		return
	}
	sp := s.pol.signed
	if sp == nil || s.pol.err != nil {
		m.policyValid.Set(0)
		m.policyUntil.Set(0)
		return
	}
	valid := 1.0
	if s.cfg.Now().Unix() >= sp.ValidUntil { // expired in the cache: the gate denies POLICY_STALE
		valid = 0
	}
	m.policyValid.Set(valid)
	m.policyUntil.Set(float64(sp.ValidUntil))
	m.policyAge.Set(s.cfg.Now().Sub(time.Unix(sp.IssuedAt, 0)).Seconds())
}
