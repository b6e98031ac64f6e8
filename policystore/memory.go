package policystore

import (
	"context"
	_ "embed"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// memory is a reader's rollback memory: the highest policy it has
// accepted (or recalled from the high-water mark), by seq and hash.
type memory struct {
	mu       sync.Mutex
	seq      uint64
	hash     string
	recalled bool   // the high-water mark has been read
	markSeq  uint64 // the mark as last read or raised
}

func (m *memory) get() (uint64, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq, m.hash
}

// accept records seq/hash unless it is older than the memory, or the same
// seq as a different policy (a signer never reuses a seq: publishes
// refuse it).
func (m *memory) accept(seq uint64, hash, whose string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acceptLocked(seq, hash, whose)
}

func (m *memory) acceptLocked(seq uint64, hash, whose string) error {
	switch {
	case seq < m.seq:
		return reason.Errorf(reason.PolicyRollback, "policy_seq %d is below %d, the highest %s", seq, m.seq, whose)
	case seq == m.seq && m.hash != "" && hash != m.hash:
		return reason.Errorf(reason.PolicyRollback, "policy_seq %d has policy_hash %.16s..., but the policy %s at that seq had %.16s...", seq, hash, whose, m.hash)
	}
	m.seq, m.hash = seq, hash
	return nil
}

//go:embed highwater.lua
var highWaterLua string

var highWaterScript = redis.NewScript(seqLua + highWaterLua)

// AcceptContext verifies fields read from the policy hash, checks them
// against the rollback memory and records them. With SharedMemory the
// memory is also the high-water mark in Redis: read at first use (so a
// restarted reader remembers), raised atomically on every newer policy
// (never lowered; another replica may have raised it further, which this
// reader then learns). Failing to read or raise the mark refuses the
// policy (POLICY_UNAVAILABLE): without it a restart would forget.
func (s *Store) AcceptContext(ctx context.Context, fields map[string]string) (*policy.Signed, error) {
	sp, err := policy.Verify(fields, s.opt.Keyring, s.opt.Now(), s.opt.ClockSkew)
	if err != nil {
		return nil, err
	}
	if !s.opt.SharedMemory {
		if err := s.mem.accept(sp.Seq, sp.Hash, "this reader has accepted"); err != nil {
			return nil, err
		}
		return sp, nil
	}
	m := &s.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.recalled {
		mark, err := s.HighWater(ctx)
		if err != nil {
			return nil, err
		}
		if mark != nil && mark.Seq > m.seq {
			m.seq, m.hash = mark.Seq, mark.Hash
		}
		if mark != nil {
			m.markSeq = mark.Seq
		}
		m.recalled = true
	}
	const whose = "accepted by an apply layer (the high-water mark)"
	if err := m.acceptLocked(sp.Seq, sp.Hash, whose); err != nil {
		return nil, err
	}
	if sp.Seq <= m.markSeq {
		return sp, nil
	}
	k := s.opt.Keys.PolicyHighWater()
	res, err := highWaterScript.Run(ctx, s.rdb, []string{k}, sp.Seq, sp.Hash, s.opt.Now().Unix()).StringSlice()
	if err != nil || len(res) != 3 {
		return nil, reason.Errorf(reason.PolicyUnavailable, "could not raise the rollback memory %s to policy_seq %d (%v): the policy is refused until it can be recorded", k, sp.Seq, err)
	}
	seq, ok := policy.ParseSeq(res[1])
	if !ok {
		return nil, reason.Errorf(reason.PolicyUnavailable, "the rollback memory %s replied policy_seq %q", k, res[1])
	}
	m.markSeq = seq
	if res[0] == "0" { // at or above ours already: another replica's
		if seq > m.seq {
			m.seq, m.hash = seq, res[2]
		}
		if err := m.acceptLocked(sp.Seq, sp.Hash, whose); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// Mark is a policy the audit trail or the high-water mark remembers.
type Mark struct {
	Seq   uint64
	Hash  string
	Where string // the key, and the entry id for a stream
}

// HighWater reads the high-water mark (nil when none is set). A mark that
// is not a seq is POLICY_UNAVAILABLE: only the apply layer writes it.
func (s *Store) HighWater(ctx context.Context) (*Mark, error) {
	k := s.opt.Keys.PolicyHighWater()
	f, err := s.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, reason.Errorf(reason.PolicyUnavailable, "read the rollback memory %s: %w", k, err)
	}
	if len(f) == 0 {
		return nil, nil
	}
	seq, ok := policy.ParseSeq(f[policy.FieldSeq])
	if !ok {
		return nil, reason.Errorf(reason.PolicyUnavailable, "the rollback memory %s holds policy_seq %q, not a seq: it has been tampered with (check, then DEL it to start again from the live policy)", k, clipText(f[policy.FieldSeq]))
	}
	return &Mark{Seq: seq, Hash: f[policy.FieldHash], Where: k}, nil
}

// Newest returns the newest published policy the policy.update and
// policy.audit streams record (the highest seq among the newest 50
// entries of each that record a publish), or nil when they record none.
// The seqs are read with policy.ParseSeq, as the publish script reads
// them. A stream this user may not read is skipped.
func (s *Store) Newest(ctx context.Context) (*Mark, error) {
	var best *Mark
	k := s.opt.Keys
	for _, st := range []struct{ key, field, want string }{
		{k.PolicyUpdate(), "event", "policy.updated"},
		{k.PolicyAudit(), "result", ResultPublished},
	} {
		msgs, err := s.rdb.XRevRangeN(ctx, st.key, "+", "-", 50).Result()
		if isNoPerm(err) {
			continue
		}
		if err != nil {
			return nil, reason.Errorf(reason.PolicyUnavailable, "read %s: %w", st.key, err)
		}
		for _, m := range msgs {
			if v, _ := m.Values[st.field].(string); v != st.want {
				continue
			}
			text, _ := m.Values[policy.FieldSeq].(string)
			seq, ok := policy.ParseSeq(text)
			if !ok || best != nil && seq <= best.Seq {
				continue
			}
			hash, _ := m.Values[policy.FieldHash].(string)
			best = &Mark{Seq: seq, Hash: hash, Where: st.key + " entry " + m.ID}
		}
	}
	return best, nil
}

// CheckHistory compares a verified live policy with what the audit trail
// (Newest) and the high-water mark say was published last, and returns
// POLICY_ROLLBACK when the live one is older, or the same seq as another
// policy: an older, still validly signed policy restored over a newer one.
// It is how one-shot readers (policy verify, status) see a rollback that
// they have no memory of. A mark this user may not read is skipped.
func (s *Store) CheckHistory(ctx context.Context, sp *policy.Signed) error {
	newest, err := s.Newest(ctx)
	if err != nil {
		return err
	}
	mark, err := s.HighWater(ctx)
	if err != nil && !isNoPerm(err) {
		return err
	}
	for _, m := range []*Mark{newest, mark} {
		if m == nil {
			continue
		}
		if sp.Seq < m.Seq || sp.Seq == m.Seq && m.Hash != "" && m.Hash != sp.Hash {
			return reason.Errorf(reason.PolicyRollback, "the live policy is policy_seq %d (policy_hash %.16s...), but policy_seq %d (policy_hash %.16s...) was published (%s): an older policy has been restored over a newer one; publish a new one (quantum policy publish --seq %d)",
				sp.Seq, sp.Hash, m.Seq, m.Hash, m.Where, m.Seq+1)
		}
	}
	return nil
}

const fromLive = "the live policy"

// floor is what a publish must exceed.
type floor struct {
	seq      uint64
	from     string // where the floor comes from, for messages
	liveHash string // "=" + the live policy_hash as read, or "" when none: the script's compare-and-set
}

// floor computes the highest verified seq: the live policy's when its
// signature verifies (policy.VerifyIntegrity: stale or invalid content
// still counts, a tampered seq never does), the streams' newest published
// seq, and the high-water mark when readable.
func (s *Store) floor(ctx context.Context) (floor, error) {
	var f floor
	live, err := s.rdb.HGetAll(ctx, s.opt.Keys.PolicyCurrent()).Result()
	switch {
	case err != nil && reason.CodeOf(redisErr(err)) == reason.PolicyParseError:
		live = nil // not a hash (a legacy SET): nothing to count; the publish replaces it
	case err != nil:
		return f, redisErr(err)
	}
	if h, ok := live[policy.FieldHash]; ok {
		f.liveHash = "=" + h
	}
	f.from = "none published"
	if len(live) > 0 && policy.VerifyIntegrity(live, s.opt.Keyring) == nil {
		if seq, ok := policy.ParseSeq(live[policy.FieldSeq]); ok {
			f.seq, f.from = seq, fromLive
		}
	}
	newest, err := s.Newest(ctx)
	if err != nil {
		return f, err
	}
	if newest != nil && newest.Seq > f.seq {
		f.seq, f.from = newest.Seq, newest.Where
	}
	mark, err := s.HighWater(ctx)
	switch {
	case err != nil && isNoPerm(err):
	case err != nil:
		return f, err
	case mark != nil && mark.Seq > f.seq:
		f.seq, f.from = mark.Seq, mark.Where
	}
	return f, nil
}

// isNoPerm reports an ACL denial, wrapped or not: a reader whose Redis
// user may not read a key skips what the key would have told it.
func isNoPerm(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOPERM")
}

func clipText(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
