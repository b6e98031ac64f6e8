// Package policystore keeps the live trading policy in Redis: Load reads it
// fail-closed, Publish replaces it atomically together with its update
// event and audit entry, and the rollback memory remembers the newest
// policy accepted.
//
// Load returns a verified policy or an error with one reason code (package
// reason); it never returns a default. Publish is one Lua script: it refuses
// unless the new policy_seq is above the highest verified one (LiveSeq),
// and otherwise deletes the old hash, writes the new one and appends to the
// policy.update and policy.audit streams, all in one atomic step, so
// readers never see a mix of two policies and an audit entry exists exactly
// for what was published.
//
// Rollback memory: every Store remembers the newest policy it accepted; a
// Store with SharedMemory (the apply layer) also keeps it in Redis at
// keys.PolicyHighWater, which the policy writer's Redis user cannot write,
// so a restart does not forget. One-shot readers (policy verify, status)
// compare the live policy with the audit trail and the mark
// (CheckHistory).
package policystore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// DefaultStreamMaxLen bounds the policy.update and policy.audit streams:
// at 48 refreshes a day, over a year of audit trail.
const DefaultStreamMaxLen = 20000

// DefaultClockSkew is how far a policy's issued_at_epoch may lie ahead of
// the reader's clock before it is POLICY_NOT_YET_VALID.
const DefaultClockSkew = 30 * time.Second

// Options configures a Store. Keys and Now are required.
type Options struct {
	Keys      keys.Space
	Keyring   *policy.TrustedKeys // trusted keys; Load and Publish refuse every policy without one
	Now       func() time.Time    // the clock; injected so tests control expiry
	ClockSkew time.Duration       // 0 means DefaultClockSkew
	MaxLen    int64               // stream bound; 0 means DefaultStreamMaxLen
	// SharedMemory keeps the rollback memory in Redis too, at
	// keys.PolicyHighWater (which only the apply layer's Redis user may
	// write): AcceptContext reads it at first use and raises it on every
	// newer policy, so a restarted reader still refuses a rollback. For
	// long-running readers (the apply layer); one-shot readers leave it
	// off and check with CheckHistory.
	SharedMemory bool
}

// Store reads and publishes the policy under one key prefix. It is safe for
// concurrent use.
type Store struct {
	rdb redis.Cmdable
	opt Options
	mem memory // the highest policy this reader has accepted
}

// New returns a Store over rdb.
func New(rdb redis.Cmdable, opt Options) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("policystore: nil redis client")
	}
	if opt.Keys.Prefix() == "" {
		return nil, errors.New("policystore: no key prefix")
	}
	if opt.Now == nil {
		return nil, errors.New("policystore: no clock")
	}
	if opt.ClockSkew <= 0 {
		opt.ClockSkew = DefaultClockSkew
	}
	if opt.MaxLen <= 0 {
		opt.MaxLen = DefaultStreamMaxLen
	}
	return &Store{rdb: rdb, opt: opt}, nil
}

// Keys returns the store's key namespace.
func (s *Store) Keys() keys.Space { return s.opt.Keys }

// Raw returns the stored policy hash as it is, unverified (for display).
func (s *Store) Raw(ctx context.Context) (map[string]string, error) {
	f, err := s.rdb.HGetAll(ctx, s.opt.Keys.PolicyCurrent()).Result()
	if err != nil {
		return nil, redisErr(err)
	}
	return f, nil
}

// Load reads, verifies and returns the live policy, or an error with one
// reason code: see policy.Verify for the order of checks, plus
// POLICY_UNAVAILABLE when Redis cannot be read and POLICY_ROLLBACK when the
// policy is older than the newest this Store remembers (AcceptContext).
func (s *Store) Load(ctx context.Context) (*policy.Signed, error) {
	fields, err := s.Raw(ctx)
	if err != nil {
		return nil, err
	}
	return s.AcceptContext(ctx, fields)
}

// Accept verifies fields read from the policy hash and checks them against
// this process's rollback memory only (no I/O: with SharedMemory, use
// AcceptContext, which also reads and raises the memory in Redis). Readers
// that fetch the hash themselves (the apply layer compares it with its
// cached copy first) use it so that the rollback check still applies.
func (s *Store) Accept(fields map[string]string) (*policy.Signed, error) {
	sp, err := policy.Verify(fields, s.opt.Keyring, s.opt.Now(), s.opt.ClockSkew)
	if err != nil {
		return nil, err
	}
	if err := s.mem.accept(sp.Seq, sp.Hash, "this reader has accepted"); err != nil {
		return nil, err
	}
	return sp, nil
}

// HighestSeq returns the highest policy_seq this Store has accepted or
// recalled (0 if none).
func (s *Store) HighestSeq() uint64 { seq, _ := s.mem.get(); return seq }

// LiveSeq returns the policy_seq a publish must exceed, and whether there
// is one: the highest of the live policy's seq (counted only when its
// signature verifies: a tampered or unparsable live policy_seq, such as
// "1e30", never blocks a publish), the newest published seqs in
// policy.update and policy.audit (so a publish after a DEL of the policy
// key continues the sequence), and the apply layer's high-water mark when
// this user may read it. The publish script re-checks atomically.
func (s *Store) LiveSeq(ctx context.Context) (uint64, bool, error) {
	f, err := s.floor(ctx)
	if err != nil {
		return 0, false, err
	}
	return f.seq, f.seq > 0, nil
}

//go:embed seq.lua
var seqLua string

//go:embed publish.lua
var publishLua string

var publishScript = redis.NewScript(seqLua + publishLua)

// Published describes a successful publish.
type Published struct {
	Seq           uint64
	Hash          string
	UpdateEntryID string
	AuditEntryID  string
}

// Publish makes sp the live policy in one atomic step with its update event
// and audit entry. actor names who published (a user, a unit) for the audit
// trail. Before anything is written, sp is checked exactly as a reader will
// check it (policy.Verify with this Store's keyring and clock), so a policy
// that readers would refuse is never published. A refusal changes nothing
// and carries a reason code: POLICY_ROLLBACK when sp's policy_seq is not
// above the highest verified one (LiveSeq: a tampered live policy_seq does
// not count), POLICY_UNAVAILABLE when Redis cannot be written.
func (s *Store) Publish(ctx context.Context, sp *policy.Signed, actor string) (*Published, error) {
	fields, err := sp.Fields()
	if err != nil {
		return nil, reason.Errorf(reason.PolicyInvalid, "%w", err)
	}
	now := s.opt.Now()
	if _, err := policy.Verify(fields, s.opt.Keyring, now, s.opt.ClockSkew); err != nil {
		var re *reason.Error
		if errors.As(err, &re) {
			return nil, &reason.Error{Code: re.Code, Msg: "readers would refuse this policy: " + re.Msg, Err: re.Err}
		}
		return nil, err
	}
	if strings.TrimSpace(actor) == "" {
		actor = "unknown"
	}
	lo, hi := sp.LeverageRange()
	seq := strconv.FormatUint(sp.Seq, 10)
	ts := strconv.FormatInt(now.Unix(), 10)

	policyArgs := flatten(fields)
	updateArgs := []any{
		"event", "policy.updated",
		policy.FieldVersion, sp.Version,
		policy.FieldSeq, seq,
		policy.FieldHash, sp.Hash,
		"timestamp", ts,
	}
	auditArgs := AuditEntry{
		Version: sp.Version, Hash: sp.Hash, Seq: seq,
		ValidUntil: strconv.FormatInt(sp.ValidUntil, 10), CreatedAt: ts,
		Generator: sp.Generator, UniverseCount: strconv.Itoa(len(sp.UniverseSymbols)),
		LeverageRange: fmt.Sprintf("%.1fx-%.1fx", float64(lo), float64(hi)),
		Actor:         actor, Result: ResultPublished, KeyID: sp.KeyID,
	}.args()

	k := s.opt.Keys
	for attempt := 0; ; attempt++ {
		fl, err := s.floor(ctx)
		if err != nil {
			return nil, err
		}
		argv := make([]any, 0, 6+len(policyArgs)+len(updateArgs)+len(auditArgs))
		argv = append(argv, seq, s.opt.MaxLen, len(policyArgs), len(updateArgs), fl.seq, fl.liveHash)
		argv = append(argv, policyArgs...)
		argv = append(argv, updateArgs...)
		argv = append(argv, auditArgs...)
		res, err := publishScript.Run(ctx, s.rdb, []string{k.PolicyCurrent(), k.PolicyUpdate(), k.PolicyAudit(), k.PolicyPublished()}, argv...).StringSlice()
		if err != nil {
			return nil, redisErr(err)
		}
		switch {
		case len(res) == 2 && res[0] == "0":
			if res[1] == strconv.FormatUint(fl.seq, 10) && fl.from == fromLive {
				return nil, reason.Errorf(reason.PolicyRollback, "live policy_seq is %s; a publish needs a policy_seq above it (this one has %d)", res[1], sp.Seq)
			}
			return nil, reason.Errorf(reason.PolicyRollback, "the highest verified policy_seq is %s (%s); a publish needs a policy_seq above it (this one has %d)", res[1], fl.from, sp.Seq)
		case len(res) == 2 && res[0] == "2" && attempt < 3:
			continue // the live policy changed since floor read it: read again
		case len(res) == 2 && res[0] == "2":
			return nil, reason.Errorf(reason.PolicyUnavailable, "the live policy kept changing during the publish; try again")
		case len(res) == 3 && res[0] == "1":
			return &Published{Seq: sp.Seq, Hash: sp.Hash, UpdateEntryID: res[1], AuditEntryID: res[2]}, nil
		default:
			return nil, reason.Errorf(reason.PolicyUnavailable, "unexpected publish script reply %q", res)
		}
	}
}

func flatten(m map[string]string) []any {
	out := make([]any, 0, 2*len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k, m[k])
	}
	return out
}

// ReadError maps an error of a Redis read of the policy hash to its reason
// code, for readers that fetch the hash in a pipeline of their own.
func ReadError(err error) error { return redisErr(err) }

// redisErr maps a Redis failure to a reason code: a key of the wrong type is
// a policy that cannot be parsed; anything else (connection refused,
// timeout, ACL denial, a script error) means the policy is unavailable.
func redisErr(err error) error {
	if strings.Contains(err.Error(), "WRONGTYPE") {
		return reason.Errorf(reason.PolicyParseError, "the policy key is not a hash: %w", err)
	}
	return reason.Errorf(reason.PolicyUnavailable, "redis: %w", err)
}
