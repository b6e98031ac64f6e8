// Package status reads the health of a deployment from Redis in one pass:
// the live policy, the apply layer's consumer group, recent results by
// decision and denial reason, open alerts, the exit-owner watch's heartbeat
// and the last proof run. It only reads. `quantum status` prints a Report;
// `quantum dev` draws its live summary from one.
//
// A Report says what needs attention (Attention): no valid policy or too
// little validity left, a firing alert, a stale watch heartbeat, plans
// pending with no consumer or a growing backlog, a failed last proof, a
// Redis without persistence or with an evicting maxmemory-policy, at or
// over MemoryWarnFraction of its maxmemory, or with fewer replicas than
// --min-replicas. A Redis error is returned, never reported as healthy.
package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/planstream"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/migrate"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

// Defaults of Options.
const (
	DefaultWindow        = time.Hour
	DefaultAlertLookback = 24 * time.Hour
	DefaultMinRemaining  = 30 * time.Minute
	DefaultGroup         = keys.ApplyGroup
	// DefaultStaleAfter is how old the watch heartbeat may be when it does
	// not record its interval: the timer runs every 5 minutes.
	DefaultStaleAfter = 15 * time.Minute
	// resultScanLimit bounds one window read: beyond it the counts say so.
	resultScanLimit = 200_000
)

// DefaultWatchJobs are the heartbeat jobs of package watch (JobTimer,
// JobFollow).
var DefaultWatchJobs = []string{keys.JobWatchTimer, keys.JobWatchFollow}

// Options configures Collect. Keys and Now are required.
type Options struct {
	Keys          keys.Space
	Keyring       *policy.TrustedKeys // trusted policy keys; nil: the signature is not checked
	Now           func() time.Time
	Window        time.Duration // results counted over this window (DefaultWindow)
	AlertLookback time.Duration // alerts read back this far (DefaultAlertLookback)
	MinRemaining  time.Duration // less validity left than this needs attention (DefaultMinRemaining)
	Group         string        // the apply layer's consumer group (DefaultGroup)
	// WatchJobs are the heartbeat jobs of the watch; the freshest counts
	// (DefaultWatchJobs: the timer's and --follow's).
	WatchJobs []string
	// ResultKey, when set, authenticates results: entries whose result_mac
	// does not verify are counted as forged, not by decision.
	ResultKey []byte
	// AllowUnsafeRedis reports the Redis settings that break a promise (no
	// persistence, an evicting maxmemory-policy) without counting them as
	// needing attention, and goes on when they cannot be read: for quantum
	// dev and tests (--allow-unsafe-redis, QUANTUM_ALLOW_UNSAFE_REDIS), as
	// for the apply layer.
	AllowUnsafeRedis bool
	// MinReplicas is the apply layer's --min-replicas: fewer connected
	// replicas need attention (0: not checked).
	MinReplicas int
}

// Policy is the live policy as a reader sees it.
type Policy struct {
	Present      bool   `json:"present"`
	Version      string `json:"version,omitempty"`
	Seq          uint64 `json:"seq,omitempty"`
	Hash         string `json:"hash,omitempty"`
	TradingState string `json:"trading_state,omitempty"`
	IssuedAt     int64  `json:"issued_at,omitempty"`
	ValidUntil   int64  `json:"valid_until,omitempty"`
	AgeSec       int64  `json:"age_sec"`
	RemainingSec int64  `json:"remaining_sec"`
	// Signature is "ok", "not checked" (no keyring) or the reason code of
	// the refusal (POLICY_SIGNATURE_INVALID, POLICY_HASH_MISMATCH, ...).
	Signature string `json:"signature"`
	Valid     bool   `json:"valid"` // verified and in force; false when not checked
	// LegacyWriter names the fields a writer changed outside the publish
	// when the hash or signature does not match (policystore.Divergence).
	LegacyWriter *policystore.Divergence `json:"legacy_writer,omitempty"`
}

// Consumer is one consumer of the apply layer's group.
type Consumer struct {
	Name    string `json:"name"`
	Pending int64  `json:"pending"`
	IdleMs  int64  `json:"idle_ms"`
}

// Group is the apply layer's consumer group on the plan stream.
type Group struct {
	Exists    bool       `json:"exists"`
	Pending   int64      `json:"pending"`
	Lag       int64      `json:"lag"` // entries after the group's last-delivered id, counted up to BacklogLimit+1
	Consumers []Consumer `json:"consumers"`
	PlanLen   int64      `json:"plan_stream_length"`
}

// Results counts the results of the window.
type Results struct {
	WindowSec  int64            `json:"window_sec"`
	Total      int64            `json:"total"`
	ByDecision map[string]int64 `json:"by_decision"`
	Denials    map[string]int64 `json:"denials_by_reason"`
	Truncated  bool             `json:"truncated,omitempty"`
	// Authenticated says whether results were checked with the result key;
	// Forged counts those that did not verify.
	Authenticated bool  `json:"authenticated"`
	Forged        int64 `json:"forged"`
}

// Alert is an alert whose latest status is not resolved.
type Alert struct {
	AlertID   string            `json:"alert_id"`
	Type      string            `json:"alert_type"`
	Status    string            `json:"status"`
	Severity  string            `json:"severity"`
	Timestamp int64             `json:"timestamp"`
	Fields    map[string]string `json:"fields"`
}

// Heartbeat is a periodic job's last run.
type Heartbeat struct {
	Job         string `json:"job"`
	Present     bool   `json:"present"`
	Outcome     string `json:"outcome,omitempty"`
	Error       string `json:"error,omitempty"`
	LastRunAt   int64  `json:"last_run_at,omitempty"`
	LastOKAt    int64  `json:"last_ok_at,omitempty"`
	AgeSec      int64  `json:"age_sec"` // since the last successful run
	IntervalSec int64  `json:"interval_sec,omitempty"`
	Stale       bool   `json:"stale"`
}

// Proof is the newest entry of the proofs ledger, its fields as written.
type Proof struct {
	ID     string            `json:"id"`
	Fields map[string]string `json:"fields"`
}

// Report is one reading of the deployment.
type Report struct {
	CheckedAt int64     `json:"checked_at"`
	Prefix    string    `json:"prefix"`
	Policy    Policy    `json:"policy"`
	Group     Group     `json:"apply_layer"`
	Results   Results   `json:"results"`
	Alerts    []Alert   `json:"open_alerts"`
	Watch     Heartbeat `json:"watch"`
	LastProof *Proof    `json:"last_proof"`
	Exposure  *Exposure `json:"exposure,omitempty"` // the exposure limits, when the policy sets any (exposure.go)
	// Tampered lists the traces of tampering found on the plan stream.
	Tampered []planstream.Finding `json:"plan_stream_tampered"`
	// ForeignGroups are the other consumer groups on the plan stream
	// (foreign.go): each one is delivered every plan.
	ForeignGroups []migrate.Group `json:"foreign_groups"`
	// Redis is the Redis configuration (redis.go).
	Redis *Redis `json:"redis"`
	// Attention lists, in words, what needs an operator; empty when healthy.
	Attention []string `json:"attention"`
}

// LiveConsumerIdle is how recently a consumer must have been served to
// count as at work.
const LiveConsumerIdle = 30 * time.Second

// BacklogLimit is the pending plus lag beyond which the apply layer is
// falling behind.
const BacklogLimit = 1000

// Collect reads the deployment once. An error means it could not check
// (Redis unreachable, a permission missing): the caller must not read the
// report as healthy.
func Collect(ctx context.Context, rdb redis.Cmdable, opt Options) (*Report, error) {
	if opt.Keys.Prefix() == "" || opt.Now == nil {
		return nil, errors.New("status: Keys and Now are required")
	}
	opt.Window = cmpOr(opt.Window, DefaultWindow)
	opt.AlertLookback = cmpOr(opt.AlertLookback, DefaultAlertLookback)
	opt.MinRemaining = cmpOr(opt.MinRemaining, DefaultMinRemaining)
	if opt.Group == "" {
		opt.Group = DefaultGroup
	}
	if len(opt.WatchJobs) == 0 {
		opt.WatchJobs = DefaultWatchJobs
	}
	now := opt.Now()
	r := &Report{CheckedAt: now.Unix(), Prefix: opt.Keys.Prefix(), Alerts: []Alert{}, Attention: []string{}}
	steps := []func(context.Context, redis.Cmdable, Options, time.Time, *Report) error{
		readRedis, readPolicy, readGroup, readStream, readForeign, readResults, readAlerts, readWatch, readProof, readExposure,
	}
	for _, step := range steps {
		if err := step(ctx, rdb, opt, now, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (r *Report) attention(format string, args ...any) {
	r.Attention = append(r.Attention, fmt.Sprintf(format, args...))
}

func strFields(v map[string]any) map[string]string {
	out := make(map[string]string, len(v))
	for k, x := range v {
		out[k] = fmt.Sprint(x)
	}
	return out
}
