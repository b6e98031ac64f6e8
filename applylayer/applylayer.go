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
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// Defaults of Config.
const (
	DefaultGroup        = "apply_layer"
	DefaultBatch        = 64
	DefaultBlock        = time.Second
	DefaultClaimIdle    = 10 * time.Second
	DefaultRecordTTL    = 24 * time.Hour
	DefaultFreshness    = 30 * time.Second
	DefaultResultMaxLen = 1_000_000
)

// Result decisions (SPEC.md).
const (
	DecisionExecuted = "EXECUTED"
	DecisionDenied   = "DENIED"
	DecisionSkipped  = "SKIPPED"
	DecisionFailed   = "FAILED"
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
	Keyring      *plan.Keyring
	AuthOff      bool // accept unsigned plans: only to migrate producers; loud everywhere
	Gate         gate.Config
	Now          func() time.Time
	Log          *slog.Logger
	Metrics      *Metrics // optional
}

// Service is one apply-layer consumer.
type Service struct {
	rdb      redis.UniversalClient
	store    *policystore.Store
	venue    exchange.Venue
	cfg      Config
	pol      policyCache
	levSet   map[string]leverageSet // leverage last set per symbol, by this process
	lastLoop atomic.Int64           // unix nanos of the last loop iteration (health, watchdog)
	polCode  atomic.Value           // reason.Code of the cached policy, "" when valid (for /healthz)
	pending  []finishing            // results of the batch in hand, written by flush
	batchPos map[string]float64     // positions read for the batch in hand (readPositions)
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
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{rdb: rdb, store: store, venue: venue, cfg: cfg, levSet: map[string]leverageSet{}, batchPos: map[string]float64{}}, nil
}

// SetMetrics attaches metrics; call it before Run.
func (s *Service) SetMetrics(m *Metrics) { s.cfg.Metrics = m }

// ClientOrderID derives the venue's client order id from a plan id: "qt-"
// and 32 hex digits of its SHA-256, within Binance's ^[\.A-Z\:/a-z0-9_-]{1,36}$.
func ClientOrderID(planID string) string {
	sum := sha256.Sum256([]byte(planID))
	return "qt-" + hex.EncodeToString(sum[:16])
}

// policyCache holds the last verified policy and the fields it came from.
type policyCache struct {
	fields map[string]string
	signed *policy.Signed
	err    error
}

// refreshPolicy re-reads the policy hash (at start; batches re-read it in
// their pipeline).
func (s *Service) refreshPolicy(ctx context.Context) {
	s.applyPolicy(s.store.Raw(ctx))
}

// applyPolicy takes the policy hash as read: the signature is verified
// again only when the stored fields changed.
func (s *Service) applyPolicy(fields map[string]string, err error) {
	if err != nil {
		if s.pol.err == nil || reason.CodeOf(s.pol.err) != reason.CodeOf(err) {
			s.cfg.Log.Error("policy unreadable: every plan is denied", "reason", reason.CodeOf(err), "error", err)
		}
		s.pol = policyCache{err: err}
		s.polCode.Store(reason.CodeOf(err))
		return
	}
	if s.pol.fields != nil && maps.Equal(fields, s.pol.fields) {
		return
	}
	prev := s.pol.signed
	sp, err := s.store.Accept(fields)
	s.pol = policyCache{fields: fields, signed: sp, err: err}
	s.polCode.Store(reason.CodeOf(err))
	switch {
	case err != nil:
		s.cfg.Log.Error("policy refused: every plan is denied until a valid policy is published",
			"reason", reason.CodeOf(err), "error", err)
	case prev == nil || prev.Hash != sp.Hash:
		s.cfg.Log.Info("policy loaded", "policy_version", sp.Version, "policy_seq", sp.Seq,
			"policy_hash", sp.Hash, "trading_state", sp.TradingState, "valid_until", sp.ValidUntil)
	}
}

// Run consumes plans until ctx is done, then finishes the batch in hand and
// returns. Redis outages are waited out: Run returns only on ctx.
func (s *Service) Run(ctx context.Context, ready func()) error {
	work := context.WithoutCancel(ctx) // in-flight plans finish after a SIGTERM
	backoff := newBackoff()
	for ctx.Err() == nil {
		if err := s.ensureGroup(ctx); err != nil {
			s.outage(ctx, backoff, "create consumer group", err)
			continue
		}
		break
	}
	if ctx.Err() != nil {
		return nil
	}
	s.refreshPolicy(ctx)
	if ready != nil {
		ready()
	}
	s.cfg.Log.Info("apply layer consuming", "stream", s.cfg.Keys.ApplyPlan(), "group", s.cfg.Group,
		"consumer", s.cfg.Consumer, "auth", s.authMode(), "exit_owner", s.cfg.Gate.ExitOwner)
	if s.cfg.AuthOff {
		s.cfg.Log.Warn("AUTH OFF: plan sources are NOT authenticated; any Redis client can act as any source, the exit owner included. Use only while migrating producers to signed plans.")
	}
	nextClaim := time.Time{}
	for ctx.Err() == nil {
		s.lastLoop.Store(time.Now().UnixNano())
		if time.Now().After(nextClaim) {
			if err := s.claim(ctx, work); err != nil && ctx.Err() == nil {
				s.outage(ctx, backoff, "claim pending plans", err)
				continue
			}
			nextClaim = time.Now().Add(max(s.cfg.ClaimIdle/2, 100*time.Millisecond))
		}
		streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.cfg.Group, Consumer: s.cfg.Consumer, Streams: []string{s.cfg.Keys.ApplyPlan(), ">"},
			Count: s.cfg.Batch, Block: s.cfg.Block,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			s.observeLag(ctx)
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				s.ensureGroup(ctx)
			}
			s.outage(ctx, backoff, "read plans", err)
			continue
		}
		backoff.reset()
		for _, st := range streams {
			s.handleBatch(work, st.Messages)
		}
	}
	s.cfg.Log.Info("apply layer stopped", "consumer", s.cfg.Consumer)
	s.leaveGroup(work)
	return nil
}

func (s *Service) authMode() string {
	if s.cfg.AuthOff {
		return "off"
	}
	return "required"
}

// Healthy reports whether the consume loop ran within the last interval.
func (s *Service) Healthy(within time.Duration) bool {
	return time.Since(time.Unix(0, s.lastLoop.Load())) < within
}

// PolicyStatus returns the reason code of the policy in use: "" when a
// valid policy is loaded, POLICY_MISSING before the first read.
func (s *Service) PolicyStatus() reason.Code {
	if c, ok := s.polCode.Load().(reason.Code); ok {
		return c
	}
	return reason.PolicyMissing
}

func (s *Service) ensureGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.cfg.Keys.ApplyPlan(), s.cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// leaveGroup removes this consumer from the group when it holds no pending
// entry, so restarts do not pile up dead consumer names.
func (s *Service) leaveGroup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.cfg.Keys.ApplyPlan(), Group: s.cfg.Group, Consumer: s.cfg.Consumer, Start: "-", End: "+", Count: 1,
	}).Result()
	if err == nil && len(p) == 0 {
		s.rdb.XGroupDelConsumer(ctx, s.cfg.Keys.ApplyPlan(), s.cfg.Group, s.cfg.Consumer)
	}
}

// claim takes over entries left pending by dead consumers.
func (s *Service) claim(ctx, work context.Context) error {
	start := "0-0"
	for ctx.Err() == nil {
		msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: s.cfg.Keys.ApplyPlan(), Group: s.cfg.Group, Consumer: s.cfg.Consumer,
			MinIdle: s.cfg.ClaimIdle, Start: start, Count: s.cfg.Batch,
		}).Result()
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			s.cfg.Log.Info("claimed pending plans", "count", len(msgs), "idle_at_least", s.cfg.ClaimIdle)
			s.handleBatch(work, msgs)
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
	return nil
}

func (s *Service) outage(ctx context.Context, b *backoff, what string, err error) {
	d := b.next()
	if b.shouldLog() {
		s.cfg.Log.Error("redis unavailable: retrying", "op", what, "error", err, "retry_in", d)
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.redisErrors.Inc()
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// observeLag records the group's lag when the stream is idle.
func (s *Service) observeLag(ctx context.Context) {
	if s.cfg.Metrics == nil {
		return
	}
	s.observePolicy()
	groups, err := s.rdb.XInfoGroups(ctx, s.cfg.Keys.ApplyPlan()).Result()
	if err != nil {
		return
	}
	for _, g := range groups {
		if g.Name == s.cfg.Group {
			s.cfg.Metrics.lag.Set(float64(g.Lag))
			s.cfg.Metrics.pending.Set(float64(g.Pending))
		}
	}
}

// item is one entry of a batch on its way through handleBatch.
type item struct {
	msg    redis.XMessage
	fields map[string]string
	p      *plan.Plan
	early  *outcome // decided before the reservation (unreadable, unauthenticated)
	recKey string
	coid   string
	status string // reservation: new, resume, replay, busy, done
	err    error
}

// handleBatch decides the entries of a batch in order. Parsing and
// authentication need no I/O; then one pipelined round trip re-reads the
// policy and reserves every authenticated plan; then each plan is finished
// in turn.
func (s *Service) handleBatch(ctx context.Context, msgs []redis.XMessage) {
	items := make([]*item, len(msgs))
	for i, m := range msgs {
		items[i] = s.prepare(m)
	}
	s.reserveAll(ctx, items)
	s.readPositions(ctx, items)
	s.observePolicy()
	for _, it := range items {
		if err := s.handle(ctx, it); err != nil {
			// The entry stays pending and is claimed again after ClaimIdle.
			s.cfg.Log.Error("plan left pending, will be retried", "entry", it.msg.ID, "error", err)
		}
	}
	s.flush(ctx)
}

// prepare parses and authenticates an entry.
func (s *Service) prepare(m redis.XMessage) *item {
	it := &item{msg: m, fields: make(map[string]string, len(m.Values))}
	for k, v := range m.Values {
		if str, ok := v.(string); ok {
			it.fields[k] = str
		} else {
			it.fields[k] = fmt.Sprint(v)
		}
	}
	p, err := plan.Parse(it.fields)
	if err != nil {
		o := denied(reason.PlanInvalid, err.Error())
		it.early = &o
		return it
	}
	it.p = p
	if !s.cfg.AuthOff {
		start := time.Now()
		d := gate.Authenticate(p, s.cfg.Keyring)
		s.observeGate(start)
		if !d.Allow {
			o := denied(d.Code, d.Msg)
			it.early = &o
			return it
		}
	}
	it.recKey = s.cfg.Keys.Key("apply:plan:" + p.ID)
	it.coid = ClientOrderID(p.ID)
	return it
}

// reserveAll re-reads the policy and reserves the batch's plans in one
// pipelined round trip. A script Redis does not hold (after a restart) is
// loaded and the reservation retried one by one.
func (s *Service) reserveAll(ctx context.Context, items []*item) {
	pipe := s.rdb.Pipeline()
	polCmd := pipe.HGetAll(ctx, s.cfg.Keys.PolicyCurrent())
	cmds := make([]*redis.Cmd, len(items))
	for i, it := range items {
		if it.early == nil {
			cmds[i] = reserveScript.EvalSha(ctx, pipe, []string{it.recKey}, s.reserveArgs(it)...)
		}
	}
	pipe.Exec(ctx) // errors are per command, read below
	fields, err := polCmd.Result()
	if err != nil {
		err = policystore.ReadError(err)
	}
	s.applyPolicy(fields, err)
	for i, it := range items {
		if cmds[i] == nil {
			continue
		}
		res, err := cmds[i].StringSlice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			res, err = reserveScript.Run(ctx, s.rdb, []string{it.recKey}, s.reserveArgs(it)...).StringSlice()
		}
		if err != nil || len(res) != 2 {
			it.err = fmt.Errorf("reserve plan %s: %v", it.p.ID, err)
			continue
		}
		it.status = res[0]
	}
}

func (s *Service) reserveArgs(it *item) []any {
	return []any{it.msg.ID, s.cfg.Consumer, s.cfg.ClaimIdle.Milliseconds(), int64(s.cfg.RecordTTL / time.Second), it.coid}
}

// outcome is what becomes a plan's result.
type outcome struct {
	decision string
	code     reason.Code
	detail   string
	order    exchange.OrderState
}

func denied(code reason.Code, detail string) outcome {
	return outcome{decision: DecisionDenied, code: code, detail: detail}
}

// handle finishes one prepared and reserved entry. An error means the
// entry could not be finished (Redis, an unknown venue outcome) and stays
// pending.
func (s *Service) handle(ctx context.Context, it *item) error {
	m, fields, p, recKey, coid := it.msg, it.fields, it.p, it.recKey, it.coid
	if it.early != nil {
		return s.finish(ctx, m.ID, fields, p, "", *it.early)
	}
	if it.err != nil {
		return it.err
	}
	status := it.status
	switch status {
	case "replay":
		return s.finish(ctx, m.ID, fields, p, "", denied(reason.PlanReplayed, "plan_id "+p.ID+" was already received on another entry"))
	case "busy":
		return nil // another live consumer holds it; it acknowledges it
	case "done": // finished before: its result exists
		if err := s.rdb.XAck(ctx, s.cfg.Keys.ApplyPlan(), s.cfg.Group, m.ID).Err(); err != nil {
			return fmt.Errorf("acknowledge entry %s: %w", m.ID, err)
		}
		return nil
	}
	if status == "resume" && p.Decision == plan.Execute {
		// A consumer died holding this plan: the venue may hold its order.
		// Reconcile by client order id; never send blindly.
		o, found, err := s.venue.LookupOrder(ctx, p.Symbol, coid)
		if err != nil {
			return fmt.Errorf("reconcile plan %s (%s): %w", p.ID, coid, err)
		}
		if found {
			s.cfg.Log.Info("reconciled plan after a restart", "plan_id", p.ID, "client_order_id", coid, "status", o.Status)
			return s.finish(ctx, m.ID, fields, p, recKey, executedOutcome(o))
		}
	}
	// Freshness is checked on every attempt that has not reached the venue:
	// a plan resumed after a long outage is not executed late.
	if d := gate.Fresh(p, s.cfg.Now(), s.cfg.Freshness); !d.Allow {
		return s.finish(ctx, m.ID, fields, p, recKey, denied(d.Code, d.Msg))
	}
	if p.Decision != plan.Execute {
		return s.finish(ctx, m.ID, fields, p, recKey, outcome{decision: DecisionSkipped, detail: "producer decision " + string(p.Decision)})
	}
	out, err := s.decideAndExecute(ctx, p, recKey, coid)
	if err != nil {
		return err
	}
	return s.finish(ctx, m.ID, fields, p, recKey, out)
}

// decideAndExecute gates an authenticated, fresh EXECUTE plan and, when it
// passes, places its order.
func (s *Service) decideAndExecute(ctx context.Context, p *plan.Plan, recKey, coid string) (outcome, error) {
	in := gate.Input{Plan: p, Policy: s.pol.signed, PolicyErr: s.pol.err, Now: s.cfg.Now()}
	if in.Policy != nil {
		pos, err := s.position(ctx, p.Symbol)
		if err != nil {
			return denied(reason.ExchangeUnavailable, "position of "+p.Symbol+": "+err.Error()), nil
		}
		in.Position = pos
		if mark, err := s.venue.MarkPrice(ctx, p.Symbol); err == nil {
			in.MarkPrice = mark
		}
	}
	start := time.Now()
	d := gate.Check(in, s.cfg.Gate)
	s.observeGate(start)
	if !d.Allow {
		if d.Code == reason.DenyNotExitOwner {
			s.cfg.Log.Warn(fmt.Sprintf("DENY_NOT_EXIT_OWNER symbol=%s source=%s plan_id=%s action=%s expected=%s",
				p.Symbol, p.Source, p.ID, p.Action, s.cfg.Gate.ExitOwner), "canary", p.Canary)
		}
		return denied(d.Code, d.Msg), nil
	}
	pol := in.Policy
	if pol.MaxOrdersPerMinute > 0 && !d.Reducing {
		take := "1"
		if p.Canary {
			take = "0"
		}
		minute := s.cfg.Now().Unix() / 60
		ok, err := rateScript.Run(ctx, s.rdb, []string{s.cfg.Keys.Key("apply:rate:" + strconv.FormatInt(minute, 10))},
			pol.MaxOrdersPerMinute, take).Int()
		if err != nil {
			return outcome{}, fmt.Errorf("rate limit: %w", err)
		}
		if ok == 0 {
			return denied(reason.RateLimitExceeded, fmt.Sprintf("max_orders_per_minute %d reached", pol.MaxOrdersPerMinute)), nil
		}
	}
	if p.Canary {
		return outcome{decision: DecisionSkipped, detail: "canary: passed every gate, not sent to the venue"}, nil
	}
	if !d.Reducing {
		lev := pol.LeverageBySymbol[p.Symbol]
		if p.Leverage > 0 {
			lev = p.Leverage
		}
		// Set again when it differs or a minute has passed: someone may
		// have changed it at the venue by hand.
		if set := s.levSet[p.Symbol]; set.lev != lev || time.Since(set.at) > leverageRecheck {
			if err := s.venue.SetLeverage(ctx, p.Symbol, lev); err != nil {
				return venueFailure(err, "set leverage"), nil
			}
			s.levSet[p.Symbol] = leverageSet{lev: lev, at: time.Now()}
		}
	}
	// The open execution record (reserveScript) already says that the venue
	// may hold this order from here on.
	start = time.Now()
	o, err := s.venue.PlaceOrder(ctx, exchange.Order{
		ClientOrderID: coid, Symbol: p.Symbol, Side: p.Side, Type: p.Type,
		Qty: p.QtyText, Price: p.PriceText, ReduceOnly: p.ReduceOnly,
	})
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.exchangeSeconds.Observe(time.Since(start).Seconds())
	}
	if errors.Is(err, exchange.ErrUnknownOutcome) {
		delete(s.batchPos, p.Symbol) // whatever happened, read it again
		found := false
		o, found, err = s.venue.LookupOrder(ctx, p.Symbol, coid)
		if err != nil || !found {
			return outcome{}, fmt.Errorf("order %s outcome unknown, reconciling later: %v", coid, err)
		}
	}
	if err != nil {
		delete(s.batchPos, p.Symbol)
		return venueFailure(err, "place order"), nil
	}
	s.filled(p, o)
	return executedOutcome(o), nil
}

// leverageSet is the leverage this process last set for a symbol, and when.
type leverageSet struct {
	lev int
	at  time.Time
}

// leverageRecheck bounds how long a leverage set at the venue is trusted
// before an entry sets it again.
const leverageRecheck = time.Minute

// positionsReader is what a venue may offer to read several positions in
// one round trip (the paper venue does).
type positionsReader interface {
	PositionsOf(ctx context.Context, symbols []string) (map[string]float64, error)
}

// readPositions reads, in one round trip when the venue can, the positions
// of the symbols the batch's plans will trade. Plans of the batch then see
// these positions moved by the batch's own fills (filled), which is what a
// read before each plan would see unless something outside this consumer
// traded the symbol within the batch: the same race a per-plan read has,
// between the read and the order.
func (s *Service) readPositions(ctx context.Context, items []*item) {
	clear(s.batchPos)
	r, ok := s.venue.(positionsReader)
	if !ok || s.pol.signed == nil {
		return
	}
	var symbols []string
	seen := map[string]bool{}
	for _, it := range items {
		if it.early == nil && it.err == nil && it.p.Decision == plan.Execute && !seen[it.p.Symbol] &&
			(it.status == "new" || it.status == "resume") {
			seen[it.p.Symbol] = true
			symbols = append(symbols, it.p.Symbol)
		}
	}
	if len(symbols) == 0 {
		return
	}
	pos, err := r.PositionsOf(ctx, symbols)
	if err != nil {
		return // each plan reads its own position, and is denied if that fails
	}
	maps.Copy(s.batchPos, pos)
}

// position returns the symbol's position: from the batch's read, else from
// the venue.
func (s *Service) position(ctx context.Context, symbol string) (float64, error) {
	if pos, ok := s.batchPos[symbol]; ok {
		return pos, nil
	}
	return s.venue.Position(ctx, symbol)
}

// filled moves the batch's copy of a position by an order this consumer
// placed; when the fill cannot be read, the copy is dropped.
func (s *Service) filled(p *plan.Plan, o exchange.OrderState) {
	pos, ok := s.batchPos[p.Symbol]
	if !ok {
		return
	}
	q, err := strconv.ParseFloat(o.FilledQty, 64)
	if err != nil {
		delete(s.batchPos, p.Symbol)
		return
	}
	if p.Side == exchange.Sell {
		q = -q
	}
	s.batchPos[p.Symbol] = pos + q
}

func executedOutcome(o exchange.OrderState) outcome {
	return outcome{decision: DecisionExecuted, order: o}
}

// venueFailure is the result of an order the venue did not take.
func venueFailure(err error, what string) outcome {
	var rej *exchange.Rejected
	if errors.As(err, &rej) {
		return outcome{decision: DecisionFailed, code: reason.ExchangeRejected,
			detail: fmt.Sprintf("%s: venue code %d: %s", what, rej.Code, rej.Msg)}
	}
	return outcome{decision: DecisionFailed, code: reason.ExchangeUnavailable, detail: what + ": " + err.Error()}
}

func (s *Service) observeGate(start time.Time) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.gateSeconds.Observe(time.Since(start).Seconds())
	}
}

// finishing is a result waiting to be written by flush.
type finishing struct {
	keys    []string
	args    []any
	entryID string
	fields  map[string]string
	p       *plan.Plan
	out     outcome
}

// finish queues a plan's result. flush writes the batch's results in one
// pipelined round trip once every plan of the batch is decided; each
// result is still its own atomic script (result, done marker,
// acknowledgement), so a crash between two plans of a batch loses no
// result: an order placed before the crash is found by its client order id
// when the entry is claimed again.
func (s *Service) finish(_ context.Context, entryID string, fields map[string]string, p *plan.Plan, recKey string, out outcome) error {
	k := s.cfg.Keys
	args := []any{s.cfg.Group, entryID, int64(s.cfg.RecordTTL / time.Second), s.cfg.ResultMaxLen}
	args = append(args, s.resultFields(entryID, fields, p, out)...)
	ks := []string{k.Key("apply:done:" + entryID), k.ApplyResult(), k.ApplyPlan()}
	if recKey != "" {
		ks = append(ks, recKey)
	}
	s.pending = append(s.pending, finishing{
		keys: ks,
		args: args, entryID: entryID, fields: fields, p: p, out: out,
	})
	return nil
}

// flush writes the queued results. One that cannot be written leaves its
// entry pending, to be claimed and finished again.
func (s *Service) flush(ctx context.Context) {
	if len(s.pending) == 0 {
		return
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(s.pending))
	for i, f := range s.pending {
		cmds[i] = finalizeScript.EvalSha(ctx, pipe, f.keys, f.args...)
	}
	pipe.Exec(ctx) // errors are per command, read below
	for i, f := range s.pending {
		id, err := cmds[i].Text()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			id, err = finalizeScript.Run(ctx, s.rdb, f.keys, f.args...).Text()
		}
		if err != nil {
			s.cfg.Log.Error("plan left pending, will be retried", "entry", f.entryID, "error", fmt.Errorf("write result: %w", err))
			continue
		}
		if id != "" {
			s.finished(f)
		}
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// finished counts and logs a written result.
func (s *Service) finished(f finishing) {
	out, p := f.out, f.p
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.finished(out.decision, out.code, s.metricSource(f.fields[plan.FieldSource]))
	}
	if out.decision == DecisionExecuted {
		s.cfg.Log.Info("plan executed", "plan_id", p.ID, "source", p.Source, "symbol", p.Symbol,
			"side", p.Side, "qty", p.QtyText, "client_order_id", out.order.ClientOrderID,
			"exchange_order_id", out.order.ExchangeOrderID, "status", out.order.Status)
	} else if out.code != "" {
		s.cfg.Log.Info("plan "+strings.ToLower(out.decision), "reason", out.code, "entry", f.entryID,
			"plan_id", clip(f.fields[plan.FieldPlanID]), "source", clip(f.fields[plan.FieldSource]), "detail", out.detail)
	}
}

// resultFields builds the result entry (SPEC.md fields, then ours).
func (s *Service) resultFields(entryID string, fields map[string]string, p *plan.Plan, out outcome) []any {
	planID, source, symbol, canary, action, side := clip(fields[plan.FieldPlanID]), clip(fields[plan.FieldSource]),
		clip(fields[plan.FieldSymbol]), "false", clip(fields[plan.FieldAction]), clip(fields[plan.FieldSide])
	if p != nil {
		planID, source, symbol, action, side = p.ID, p.Source, p.Symbol, p.Action, string(p.Side)
		canary = strconv.FormatBool(p.Canary)
	}
	var version, seq, hash string
	if sp := s.pol.signed; sp != nil {
		version, seq, hash = sp.Version, strconv.FormatUint(sp.Seq, 10), sp.Hash
	}
	executed := out.decision == DecisionExecuted
	coid := ""
	if p != nil && (executed || out.decision == DecisionFailed) {
		coid = ClientOrderID(p.ID)
	}
	filled, avg := out.order.FilledQty, out.order.AvgPrice
	if !executed {
		filled, avg = "0", "0"
	}
	return []any{
		"plan_id", planID, "source", source, "symbol", symbol,
		"decision", out.decision, "executed", strconv.FormatBool(executed),
		"reason", string(out.code), "error", string(out.code),
		"policy_version", version, "policy_seq", seq, "policy_hash", hash,
		"client_order_id", coid, "exchange_order_id", out.order.ExchangeOrderID,
		"filled_qty", filled, "avg_price", avg, "canary", canary,
		"timestamp", strconv.FormatInt(s.cfg.Now().Unix(), 10),
		"plan_entry_id", entryID, "action", action, "side", side,
		"order_status", string(out.order.Status), "detail", clip(out.detail), "consumer", s.cfg.Consumer,
	}
}

// clip keeps hostile input out of results and logs at a sane length.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}
