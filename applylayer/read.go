package applylayer

// Raw reads of the plan stream. go-redis's typed XREADGROUP and XAUTOCLAIM
// replies are maps, which keep one copy of a field sent twice; a hostile
// producer could then show a human one value (redis-cli prints every copy,
// the first first) and the gate another. So plans are read raw, their
// fields kept in the order sent, and plan.ParseEntry refuses a repeated
// name with PLAN_INVALID.

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/planstream"
	"github.com/quantumtrader/quantum/plan"
)

// entry is one plan stream entry as Redis sent it.
type entry struct {
	ID    string
	Pairs []string // field, value, ... in the order sent; repeated names kept
	Err   error    // the entry could not be read as one (a PLAN_INVALID result)
}

// readGroup reads the next batch for this consumer, blocking up to
// cfg.Block. redis.Nil means nothing arrived.
func (s *Service) readGroup(ctx context.Context) ([]entry, error) {
	raw, err := s.rdb.Do(ctx, "XREADGROUP", "GROUP", s.cfg.Group, s.cfg.Consumer, "COUNT", s.cfg.Batch,
		"BLOCK", s.cfg.Block.Milliseconds(), "STREAMS", s.cfg.Keys.ApplyPlan(), ">").Result()
	if err != nil {
		return nil, err
	}
	// RESP2: [[stream, entries]]; RESP3: {stream: entries}.
	var entries any
	switch r := raw.(type) {
	case []any:
		if len(r) == 0 {
			return nil, redis.Nil
		}
		st, ok := r[0].([]any)
		if !ok || len(st) != 2 {
			return nil, fmt.Errorf("XREADGROUP reply: unexpected %T", r[0])
		}
		entries = st[1]
	case map[any]any:
		for _, v := range r {
			entries = v
		}
	case nil:
		return nil, redis.Nil
	default:
		return nil, fmt.Errorf("XREADGROUP reply: unexpected %T", raw)
	}
	return parseEntries(entries)
}

// autoClaim takes up to a batch of entries pending for at least ClaimIdle,
// from start; it returns them and the cursor of the next call ("0-0": done).
func (s *Service) autoClaim(ctx context.Context, start string) ([]entry, string, error) {
	raw, err := s.rdb.Do(ctx, "XAUTOCLAIM", s.cfg.Keys.ApplyPlan(), s.cfg.Group, s.cfg.Consumer,
		s.cfg.ClaimIdle.Milliseconds(), start, "COUNT", s.cfg.Batch).Result()
	if err != nil {
		return nil, "", err
	}
	r, ok := raw.([]any)
	if !ok || len(r) < 2 {
		return nil, "", fmt.Errorf("XAUTOCLAIM reply: unexpected %T", raw)
	}
	next, _ := r[0].(string)
	es, err := parseEntries(r[1])
	if len(r) >= 3 { // Redis 7: the ids deleted while pending
		if del, ok := r[2].([]any); ok && len(del) > 0 {
			ids := make([]string, 0, len(del))
			for _, d := range del {
				if id, ok := d.(string); ok {
					ids = append(ids, id)
				}
			}
			if f, err := planstream.DeletedWhilePending(ids); err == nil {
				s.tampered(ctx, f)
			}
		}
	}
	return es, next, err
}

// parseEntries reads a raw list of entries. An entry that is not
// [id, [field, value...]] is kept with its error, so that it still gets
// a result; one deleted while pending (nil) is skipped: there is nothing
// left to decide.
func parseEntries(raw any) ([]entry, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("stream entries: unexpected %T", raw)
	}
	out := make([]entry, 0, len(list))
	for _, e := range list {
		if e == nil {
			continue
		}
		id, pairs, err := plan.EntryPairs(e)
		if id == "" {
			return nil, fmt.Errorf("stream entry without an id: %w", err)
		}
		out = append(out, entry{ID: id, Pairs: pairs, Err: err})
	}
	return out, nil
}
