package migrate

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

// ShadowSummary is a shadow period read back from quantum:stream:apply.shadow.
type ShadowSummary struct {
	From, To   int64                     `json:"-"`
	Since      string                    `json:"since"`
	Total      int                       `json:"total"`
	ByDecision map[string]int            `json:"by_decision"`
	WouldDeny  map[string]map[string]int `json:"would_deny_by_reason_and_source"`
	Unsigned   map[string]int            `json:"unsigned_by_source"` // AUTH_MISSING
	Ownership  map[string]map[string]int `json:"ownership_violations_by_source_and_symbol"`
	Failed     map[string]int            `json:"would_fail_by_reason"`
	FirstEntry string                    `json:"first_entry,omitempty"`
	LastEntry  string                    `json:"last_entry,omitempty"`
}

// shadowScanLimit bounds one summary's read.
const shadowScanLimit = 1_000_000

// SummarizePeriod summarizes the shadow results of the last since before
// now (0: everything) over a new client of dial (closed on return), as
// `quantum migrate report` does; a period with no shadow result is an
// error (no shadow apply layer ran).
func SummarizePeriod(ctx context.Context, dial func() (redis.UniversalClient, error), ks keys.Space, now time.Time, since time.Duration) (*ShadowSummary, error) {
	rdb, err := dial()
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	var from time.Time
	if since > 0 {
		from = now.Add(-since)
	}
	s, err := Summarize(ctx, rdb, ks, from)
	if err != nil {
		return nil, err
	}
	if s.Total == 0 {
		return nil, fmt.Errorf("no shadow result on %s in the period: is apply-layer --mode shadow running?", ks.ApplyShadow())
	}
	return s, nil
}

// Ready says whether enforcing would have done what the shadow period's
// producers asked: no plan would have been denied or failed.
func (s *ShadowSummary) Ready() bool { return len(s.WouldDeny) == 0 && len(s.Failed) == 0 }

// Summarize reads the shadow results written since since (0: all).
func Summarize(ctx context.Context, rdb redis.Cmdable, ks keys.Space, since time.Time) (*ShadowSummary, error) {
	s := &ShadowSummary{ByDecision: map[string]int{}, WouldDeny: map[string]map[string]int{}, Unsigned: map[string]int{},
		Ownership: map[string]map[string]int{}, Failed: map[string]int{}}
	start := "-"
	if !since.IsZero() {
		start = strconv.FormatInt(since.UnixMilli(), 10)
		s.Since = since.UTC().Format(time.RFC3339)
	}
	stream := ks.ApplyShadow()
	for s.Total < shadowScanLimit {
		msgs, err := rdb.XRangeN(ctx, stream, start, "+", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		for _, m := range msgs {
			if s.FirstEntry == "" {
				s.FirstEntry = m.ID
			}
			s.LastEntry = m.ID
			r := plan.ParseResult(m.Values)
			s.Total++
			s.ByDecision[string(r.Decision)]++
			switch r.Decision {
			case plan.Denied:
				inc(s.WouldDeny, string(r.Reason), r.Source)
				if r.Reason == reason.AuthMissing {
					s.Unsigned[r.Source]++
				}
				if r.Reason == reason.DenyNotExitOwner {
					inc(s.Ownership, r.Source, r.Symbol)
				}
			case plan.Failed:
				s.Failed[string(r.Reason)]++
			}
		}
		if len(msgs) < 1000 {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return s, nil
}

func inc(m map[string]map[string]int, a, b string) {
	if m[a] == nil {
		m[a] = map[string]int{}
	}
	m[a][b]++
}
