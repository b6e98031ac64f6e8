// Package applylayer is the order gateway: it consumes plans from
// quantum:stream:apply.plan in a consumer group, gates each one (package
// gate), executes the allowed ones exactly once at the venue, and writes one
// result per plan to quantum:stream:apply.result before acknowledging it.
//
// Exactly once, under crashes at any instant and any number of replicas:
//
//   - every stream entry is finished by one Lua script that appends its
//     result, marks the entry done and acknowledges it together (a crash
//     leaves both or neither);
//   - a plan's execution record (keyed by plan_id, created atomically on
//     first sight, leased to one consumer at a time) exists before the
//     venue is called and stays open until the result is written; it holds
//     the client order id derived from the plan_id; a plan_id seen on
//     another entry is a replay;
//   - an entry redelivered after a crash resumes from its record: a plan
//     that may have reached the venue is looked up by its client order id
//     and never blindly re-sent (the venue refuses a second order with the
//     same id in any case).
//
// The policy is read fail-closed: the verified policy is cached and the
// hash is re-read once per batch (one HGETALL compared byte for byte with
// the cached copy, the signature verified again only when it changed), so a
// publish, a deletion or a tampering governs the next batch, and its expiry
// is re-checked against the clock for every plan.
package applylayer

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policystore"
)

// Defaults of Config.
const (
	DefaultGroup        = keys.ApplyGroup
	DefaultBatch        = 64
	DefaultBlock        = time.Second
	DefaultClaimIdle    = 10 * time.Second
	DefaultRecordTTL    = 24 * time.Hour
	DefaultFreshness    = 30 * time.Second
	DefaultResultMaxLen = 1_000_000
)

// Config configures a Service. Keys, Consumer, Gate.ExitOwner and Now are
// required; Keyring is required unless AuthOff.
type Config struct {
	Keys         keys.Space
	Group        string
	Consumer     string // unique per process
	Batch        int64
	Block        time.Duration // how long one read blocks; never 0 (go-redis would block forever)
	ClaimIdle    time.Duration // entries pending this long on a dead consumer are claimed
	RecordTTL    time.Duration // how long execution records and done markers live
	ResultMaxLen int64
	Freshness    time.Duration
	Keyring      *plan.Secrets
	AuthOff      bool // accept unsigned plans: only to migrate producers; loud everywhere
	Gate         gate.Config
	Now          func() time.Time
	Log          *slog.Logger
	Metrics      *Metrics      // optional
	Alerts       Alerter       // optional: raises PLAN_STREAM_TAMPERED
	ResultKey    []byte        // authenticates every result (plan.ResultMAC); nil: results unsigned
	MinReplicas  int           // execution records must reach this many replicas before an order (replicate.go)
	ReplicaWait  time.Duration // how long a batch waits for them (DefaultReplicaWait)
	// ResultRetention is how long results are kept (by age; the MAXLEN cap
	// still bounds their count); at least RecordTTL (the default).
	ResultRetention time.Duration
	// ConsumerGrace is how long an idle consumer with nothing pending is
	// kept (DefaultConsumerGrace).
	ConsumerGrace time.Duration
	// Results is the stream results are written to: Keys.ApplyResult()
	// when "" (shadow mode: Keys.ApplyShadow()).
	Results string
	// State is the namespace of this layer's own state (execution records,
	// done markers, symbol leases, rate counters): Keys when zero (shadow
	// mode: Keys.ShadowState(), so that it never contends with enforce mode).
	State keys.Space
	// Shadow marks a layer whose venue never places (exchange/shadow): its
	// log says "would", so that operators' greps count real denials only.
	Shadow bool
}

// Service is one apply-layer consumer.
type Service struct {
	rdb          redis.UniversalClient
	store        *policystore.Store
	venue        exchange.Venue
	cfg          Config
	pol          policyCache
	levSet       map[string]leverageSet // leverage last set per symbol, by this process
	lastLoop     atomic.Int64           // unix nanos of the last loop iteration (watchdog: the process is alive)
	lastRead     atomic.Int64           // unix nanos of the last successful read of the plan stream (health)
	polCode      atomic.Value           // reason.Code of the cached policy, "" when valid (for /healthz)
	pending      []finishing            // results of the batch in hand, written by flush
	batchPos     map[string]float64     // positions read under the symbol lease in hand, moved by its fills
	held         *symbolLease           // the one symbol lease this consumer holds (lease.go)
	lastSnapshot time.Time              // when recordAccount last wrote the account snapshot (exposure_status.go)

	lastTamperCheck time.Time // the consume loop's last plan stream inspection (tamper.go)
	lastHousekeep   time.Time // the last retention and dead-consumer pass (retention.go)
	lastReconcile   time.Time // the last venue reconciliation (reconcile.go)
	clockSkewed     bool      // the last clock check found a skew (clock.go)
	clockAlerted    bool      // CLOCK_SKEW raised and not yet resolved
}

// New returns a Service. store reads the policy; venue executes.
func New(rdb redis.UniversalClient, store *policystore.Store, venue exchange.Venue, cfg Config) (*Service, error) {
	switch {
	case rdb == nil || store == nil || venue == nil:
		return nil, errors.New("applylayer: redis, store and venue are required")
	case cfg.Keys.Prefix() == "":
		return nil, errors.New("applylayer: no key prefix")
	case cfg.Consumer == "":
		return nil, errors.New("applylayer: no consumer name")
	case cfg.Gate.ExitOwner == "":
		return nil, errors.New("applylayer: no exit owner")
	case cfg.Now == nil:
		return nil, errors.New("applylayer: no clock")
	case !cfg.AuthOff && cfg.Keyring == nil:
		return nil, errors.New("applylayer: authentication is required and no keyring is configured")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Block <= 0 {
		cfg.Block = DefaultBlock
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = DefaultClaimIdle
	}
	if cfg.RecordTTL <= 0 {
		cfg.RecordTTL = DefaultRecordTTL
	}
	if cfg.ResultMaxLen <= 0 {
		cfg.ResultMaxLen = DefaultResultMaxLen
	}
	if cfg.Freshness <= 0 {
		cfg.Freshness = DefaultFreshness
	}
	if cfg.Gate.Freshness <= 0 {
		cfg.Gate.Freshness = cfg.Freshness
	}
	// A replay must find the record of its first delivery for as long as
	// its timestamp can pass the freshness check (both sides of now).
	if cfg.RecordTTL < 2*cfg.Freshness {
		return nil, fmt.Errorf("applylayer: record TTL %s is shorter than twice the freshness window %s: a replay could execute again", cfg.RecordTTL, cfg.Freshness)
	}
	if cfg.State.Prefix() == "" {
		cfg.State = cfg.Keys
	}
	if cfg.Results == "" {
		cfg.Results = cfg.Keys.ApplyResult()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ReplicaWait <= 0 {
		cfg.ReplicaWait = DefaultReplicaWait
	}
	if cfg.ResultRetention < cfg.RecordTTL {
		cfg.ResultRetention = cfg.RecordTTL // a result outlives its plan's record
	}
	if cfg.ConsumerGrace <= 0 {
		cfg.ConsumerGrace = DefaultConsumerGrace
	}
	return &Service{rdb: rdb, store: store, venue: venue, cfg: cfg, levSet: map[string]leverageSet{}, batchPos: map[string]float64{}}, nil
}

// SetMetrics attaches metrics; call it before Run.
func (s *Service) SetMetrics(m *Metrics) { s.cfg.Metrics = m }
