package policystore

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Audit results.
const (
	ResultPublished = "published"
	ResultRejected  = "rejected"
	// ResultInterrupted records a refresh run that was killed before it
	// finished, written by the next run (package refresh).
	ResultInterrupted = "interrupted"
)

// AuditEntry is one entry of the policy.audit stream (fields in SPEC.md;
// key_id, reason and detail are ours, added). A rejected entry carries the
// reason code of the refusal in Reason and the operator's explanation in
// Detail.
type AuditEntry struct {
	ID            string `json:"id"`
	Version       string `json:"policy_version"`
	Hash          string `json:"policy_hash"`
	Seq           string `json:"policy_seq"`
	ValidUntil    string `json:"valid_until_epoch"`
	CreatedAt     string `json:"created_at_epoch"`
	Generator     string `json:"generator"`
	UniverseCount string `json:"universe_count"`
	LeverageRange string `json:"leverage_range"`
	Actor         string `json:"actor"`
	Result        string `json:"result"`
	KeyID         string `json:"key_id,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Detail        string `json:"detail,omitempty"`
}

func (e AuditEntry) args() []any {
	a := []any{
		"policy_version", e.Version,
		"policy_hash", e.Hash,
		"policy_seq", e.Seq,
		"valid_until_epoch", e.ValidUntil,
		"created_at_epoch", e.CreatedAt,
		"generator", e.Generator,
		"universe_count", e.UniverseCount,
		"leverage_range", e.LeverageRange,
		"actor", e.Actor,
		"result", e.Result,
	}
	if e.KeyID != "" {
		a = append(a, "key_id", e.KeyID)
	}
	if e.Reason != "" {
		a = append(a, "reason", e.Reason)
	}
	if e.Detail != "" {
		a = append(a, "detail", e.Detail)
	}
	return a
}

func auditEntryOf(m redis.XMessage) AuditEntry {
	get := func(k string) string {
		if v, ok := m.Values[k].(string); ok {
			return v
		}
		return ""
	}
	return AuditEntry{
		ID: m.ID, Version: get("policy_version"), Hash: get("policy_hash"), Seq: get("policy_seq"),
		ValidUntil: get("valid_until_epoch"), CreatedAt: get("created_at_epoch"),
		Generator: get("generator"), UniverseCount: get("universe_count"),
		LeverageRange: get("leverage_range"), Actor: get("actor"), Result: get("result"),
		KeyID: get("key_id"), Reason: get("reason"), Detail: get("detail"),
	}
}

// Audit returns the newest count audit entries, newest first.
func (s *Store) Audit(ctx context.Context, count int64) ([]AuditEntry, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.opt.Keys.PolicyAudit(), "+", "-", count).Result()
	if err != nil {
		return nil, redisErr(err)
	}
	out := make([]AuditEntry, len(msgs))
	for i, m := range msgs {
		out[i] = auditEntryOf(m)
	}
	return out, nil
}

// AppendAudit appends an entry that records no publish, such as a refused
// refresh (result=rejected); the live policy is not touched.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (string, error) {
	if e.CreatedAt == "" {
		e.CreatedAt = strconv.FormatInt(s.opt.Now().Unix(), 10)
	}
	id, err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: s.opt.Keys.PolicyAudit(), MaxLen: s.opt.MaxLen, Approx: true, Values: e.args(),
	}).Result()
	if err != nil {
		return "", redisErr(err)
	}
	return id, nil
}
