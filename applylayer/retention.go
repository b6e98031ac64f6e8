package applylayer

// Housekeeping, at most every HousekeepEvery by whichever replica gets
// there (each step is idempotent):
//
//   - retention: plans acknowledged longer ago than the record TTL are
//     trimmed from the plan stream (XTRIM MINID, never past the group's
//     oldest pending entry nor its last-delivered id, so nothing unread or
//     unfinished is touched, and the tamper check, which looks only above
//     last-delivered, never mistakes it for a producer's trim); results
//     older than ResultRetention are trimmed from the result stream (its
//     MAXLEN cap stays as the bound by count);
//   - dead consumers: consumers of the group with nothing pending and idle
//     longer than ConsumerGrace are removed (restarts of crashed replicas
//     would otherwise pile them up).

import (
	"context"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/internal/streamid"
)

// HousekeepEvery bounds how often housekeeping runs (a variable for tests).
var HousekeepEvery = time.Minute

// DefaultConsumerGrace is how long a consumer with nothing pending may stay
// idle before it is removed.
const DefaultConsumerGrace = time.Hour

// housekeep runs the steps when due.
func (s *Service) housekeep(ctx context.Context) {
	if time.Since(s.lastHousekeep) < HousekeepEvery {
		return
	}
	s.lastHousekeep = time.Now()
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return // an outage: the loop's reads report it
	}
	s.trimPlans(ctx, now)
	s.trimResults(ctx, now)
	s.removeDeadConsumers(ctx)
}

// trimPlans trims acknowledged plans older than the record TTL.
func (s *Service) trimPlans(ctx context.Context, now time.Time) {
	stream := s.cfg.Keys.ApplyPlan()
	limit := streamid.ID{MS: uint64(now.Add(-s.cfg.RecordTTL).UnixMilli())}
	groups, err := s.rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return
	}
	if s.cfg.Shadow {
		return // a shadow never trims the stream it only watches
	}
	found := false
	// Every group on the stream bounds the trim, not only ours: a shadow
	// (or, during a migration, another group) that lags must find its
	// plans, and its tamper check must not read our trim as a producer's.
	for _, g := range groups {
		if g.Name == s.cfg.Group {
			found = true
		}
		if read, err := streamid.Parse(g.LastDeliveredID); err == nil && read.Less(limit) {
			limit = read
		}
		if sum, err := s.rdb.XPending(ctx, stream, g.Name).Result(); err == nil && sum.Count > 0 {
			if oldest, err := streamid.Parse(sum.Lower); err == nil && oldest.Less(limit) {
				limit = oldest
			}
		}
	}
	if !found {
		return // nothing is read yet: nothing may be trimmed
	}
	if limit.MS == 0 {
		return
	}
	n, err := s.rdb.XTrimMinID(ctx, stream, limit.String()).Result()
	if err == nil && n > 0 {
		s.cfg.Log.Info("retention: acknowledged plans trimmed", "count", n, "before", limit.String(), "record_ttl", s.cfg.RecordTTL)
	}
}

// trimResults trims results older than ResultRetention.
func (s *Service) trimResults(ctx context.Context, now time.Time) {
	min := strconv.FormatInt(now.Add(-s.cfg.ResultRetention).UnixMilli(), 10) + "-0"
	if n, err := s.rdb.XTrimMinID(ctx, s.cfg.Results, min).Result(); err == nil && n > 0 {
		s.cfg.Log.Info("retention: old results trimmed", "count", n, "older_than", s.cfg.ResultRetention)
	}
}

// removeDeadConsumers removes idle consumers with nothing pending.
func (s *Service) removeDeadConsumers(ctx context.Context) {
	stream := s.cfg.Keys.ApplyPlan()
	cs, err := s.rdb.XInfoConsumers(ctx, stream, s.cfg.Group).Result()
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Name == s.cfg.Consumer || c.Pending > 0 || c.Idle < s.cfg.ConsumerGrace {
			continue
		}
		removed, err := delConsumerScript.Run(ctx, s.rdb, []string{stream}, s.cfg.Group, c.Name).Int()
		if err == nil && removed == 1 {
			s.cfg.Log.Info("removed a dead consumer with nothing pending", "consumer", c.Name, "idle", c.Idle.Round(time.Second))
		}
	}
}
