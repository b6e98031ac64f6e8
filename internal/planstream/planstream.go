// Package planstream detects what a producer with write access to
// quantum:stream:apply.plan can do to the stream beyond adding plans:
// delete plans before the apply layer read them (XADD ... MAXLEN 0 or
// MINID, XTRIM, XDEL), and stamp an id far ahead of Redis's clock (every
// later XADD with "*" then fails, so no exit can be sent). The shipped ACL
// cannot forbid those XADD options, so the apply layer, status and the
// proofs look for their traces, which Redis keeps whatever the ACL:
//
//   - deleted before read: entries were added after the apply group's
//     last-delivered-id (last-generated-id is above it) and fewer are left
//     than were added (none, or fewer than the group's lag: a trim), or an
//     XDEL'd id (max-deleted-entry-id) is above it (nothing of ours
//     deletes what the group has not read);
//   - deleted while pending: entries XAUTOCLAIM reports deleted (the caller
//     passes them in);
//   - far-future id: last-generated-id more than FutureTolerance ahead of
//     Redis TIME (at the largest id, every later XADD with "*" fails; below
//     it, later plans carry ids from the future, which fools any reader
//     that takes ids as a clock).
//
// Each finding carries a key that names the event, so an alert is raised
// once per event and not again for the same trace.
package planstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/streamid"
	"github.com/quantumtrader/quantum/keys"
)

// FutureTolerance is how far ahead of Redis's clock the stream's newest id
// may be before it is tampering (a writer's explicit id; Redis's own ids
// never run ahead of its clock).
const FutureTolerance = time.Minute

// Kinds of finding.
const (
	DeletedUnread  = "deleted_unread"
	DeletedPending = "deleted_pending"
	FutureID       = "future_id"
)

// Finding is one trace of tampering.
type Finding struct {
	Kind   string `json:"kind"`
	Event  string `json:"event"` // names the event: the same trace gives the same event
	Detail string `json:"detail"`
}

// Redis is what Inspect reads.
type Redis interface {
	XInfoStream(ctx context.Context, key string) *redis.XInfoStreamCmd
	XInfoGroups(ctx context.Context, key string) *redis.XInfoGroupsCmd
	XRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
	Time(ctx context.Context) *redis.TimeCmd
}

// Inspect reads the plan stream of ks and its group and returns the traces
// of tampering found. A stream that does not exist yet has none.
func Inspect(ctx context.Context, rdb Redis, ks keys.Space, group string) ([]Finding, error) {
	stream := ks.ApplyPlan()
	info, err := rdb.XInfoStream(ctx, stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil, nil
		}
		return nil, fmt.Errorf("XINFO STREAM %s: %w", stream, err)
	}
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("TIME: %w", err)
	}
	var out []Finding
	if last, err := streamid.Parse(info.LastGeneratedID); err == nil && last.MS > uint64(now.Add(FutureTolerance).UnixMilli()) {
		out = append(out, Finding{Kind: FutureID, Event: FutureID + ":" + info.LastGeneratedID,
			Detail: fmt.Sprintf("the newest plan id %s is %s ahead of Redis's clock (at the largest id every XADD with * fails: no plan, no exit, can be sent); a writer chose it: find who, and recreate the stream after draining it",
				info.LastGeneratedID, ahead(last, now))})
	}
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return nil, fmt.Errorf("XINFO GROUPS %s: %w", stream, err)
	}
	for _, g := range groups {
		if g.Name != group {
			continue
		}
		read, err := streamid.Parse(g.LastDeliveredID)
		if err != nil {
			continue
		}
		gone := false
		last, _ := streamid.Parse(info.LastGeneratedID)
		deleted, derr := streamid.Parse(info.MaxDeletedEntryID)
		switch {
		case derr == nil && read.Less(deleted): // an XDEL of an entry not read yet
			gone = true
		case read.Less(last) || lagCounted(info, g) > 0:
			// Entries were added after what the group read: they must be
			// there (the newest at least; as many as the lag, when Redis
			// counted it).
			want := max(lagCounted(info, g), 1)
			left, err := rdb.XRangeN(ctx, stream, "("+g.LastDeliveredID, "+", want).Result()
			if err != nil {
				return nil, fmt.Errorf("XRANGE %s: %w", stream, err)
			}
			gone = int64(len(left)) < want
		}
		if gone {
			out = append(out, Finding{Kind: DeletedUnread, Event: DeletedUnread + ":after:" + g.LastDeliveredID,
				Detail: fmt.Sprintf("plans added after %s were deleted before group %s read them (lag %d): they got no result",
					g.LastDeliveredID, group, g.Lag)})
		}
	}
	return out, nil
}

// DeletedWhilePending is the finding for entries that were delivered to a
// consumer and deleted before they were acknowledged (XAUTOCLAIM reports
// their ids): their plans got no result.
func DeletedWhilePending(ids []string) (Finding, error) {
	if len(ids) == 0 {
		return Finding{}, errors.New("planstream: no deleted ids")
	}
	return Finding{Kind: DeletedPending, Event: DeletedPending + ":" + ids[len(ids)-1],
		Detail: fmt.Sprintf("%d pending plan(s) deleted before their result was written (%s...): they got no result", len(ids), ids[0])}, nil
}

// ahead says how far id is ahead of now, in words (an id near the largest
// is beyond any time.Duration).
func ahead(id streamid.ID, now time.Time) string {
	ms := id.MS - uint64(now.UnixMilli())
	if ms > uint64(100*365*24*time.Hour/time.Millisecond) {
		return "more than a century"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

// lagCounted is the group's lag when Redis's own counters vouch for it
// (lag = entries-added - entries-read, which holds whenever Redis could
// count it), else 0: a server that reports a lag its counters do not add
// up to (miniredis, under quantum dev) is not taken at its word.
func lagCounted(info *redis.XInfoStream, g redis.XInfoGroup) int64 {
	if g.Lag > 0 && g.Lag == info.EntriesAdded-g.EntriesRead {
		return g.Lag
	}
	return 0
}
