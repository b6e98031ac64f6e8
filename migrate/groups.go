// Package migrate moves a deployment of the old Python stack onto the
// governance core without a double order, a lost exit or a broken reader
// (docs/migration.md).
//
//   - ForeignGroups finds the other consumer groups on the plan stream (the
//     old intent_executor places every plan it is delivered, reading no
//     signature) and whether they have live consumers: an enforcing apply
//     layer refuses to start beside one (Guard, which also watches while
//     it runs), and status flags them.
//   - Check is the read-only preflight of `quantum migrate check`: each
//     hazard found with the step of the migration guide that fixes it.
//   - Summarize reads a shadow period from quantum:stream:apply.shadow for
//     `quantum migrate report`.
//
// Everything here only reads Redis.
package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// DefaultLiveWithin is how recently a consumer must have been served to
// count as live. Before Redis 7.2 a read that finds nothing does not reset
// a consumer's idle time, so an executor on a quiet stream looks idle: the
// window is wide on purpose (a false "live" only delays a start; a false
// "dead" doubles orders).
const DefaultLiveWithin = 15 * time.Minute

// OwnGroups are the consumer groups of this project: the apply layer's
// and the shadow's. Every other group on the plan stream is foreign.
var OwnGroups = []string{keys.ApplyGroup, keys.ApplyShadowGroup}

// Consumer is one consumer of a group.
type Consumer struct {
	Name    string `json:"name"`
	Pending int64  `json:"pending"`
	IdleMs  int64  `json:"idle_ms"`
	Live    bool   `json:"live"`
}

// Group is a consumer group on the plan stream that is not ours.
type Group struct {
	Name          string     `json:"name"`
	Pending       int64      `json:"pending"`
	LastDelivered string     `json:"last_delivered_id"`
	Consumers     []Consumer `json:"consumers"`
}

// Live reports whether any consumer of the group is live.
func (g Group) Live() bool {
	return slices.ContainsFunc(g.Consumers, func(c Consumer) bool { return c.Live })
}

// LiveConsumers names the group's live consumers with their idle times.
func (g Group) LiveConsumers() []string {
	var out []string
	for _, c := range g.Consumers {
		if c.Live {
			out = append(out, fmt.Sprintf("%s (idle %s)", c.Name, (time.Duration(c.IdleMs)*time.Millisecond).Truncate(time.Millisecond)))
		}
	}
	return out
}

// ForeignGroups returns the consumer groups on stream other than own, in
// name order, with their consumers; a consumer served within liveWithin
// (DefaultLiveWithin when 0) is live. No stream means no group.
func ForeignGroups(ctx context.Context, rdb redis.Cmdable, stream string, own []string, liveWithin time.Duration) ([]Group, error) {
	if liveWithin <= 0 {
		liveWithin = DefaultLiveWithin
	}
	infos, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil, nil
		}
		return nil, fmt.Errorf("XINFO GROUPS %s: %w", stream, err)
	}
	var out []Group
	for _, gi := range infos {
		if slices.Contains(own, gi.Name) {
			continue
		}
		g := Group{Name: gi.Name, Pending: gi.Pending, LastDelivered: gi.LastDeliveredID, Consumers: []Consumer{}}
		cs, err := rdb.XInfoConsumers(ctx, stream, gi.Name).Result()
		if err != nil {
			return nil, fmt.Errorf("XINFO CONSUMERS %s %s: %w", stream, gi.Name, err)
		}
		for _, c := range cs {
			idle := max(0, c.Idle)
			g.Consumers = append(g.Consumers, Consumer{Name: c.Name, Pending: c.Pending, IdleMs: idle.Milliseconds(), Live: idle < liveWithin})
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LiveForeign returns the groups with a live consumer, described in one
// line each ("intent_executor: executor-1 (idle 2s)").
func LiveForeign(groups []Group) []string {
	var out []string
	for _, g := range groups {
		if g.Live() {
			out = append(out, g.Name+": "+strings.Join(g.LiveConsumers(), ", "))
		}
	}
	return out
}
