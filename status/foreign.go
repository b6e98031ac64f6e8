package status

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/migrate"
)

// readForeign lists the other consumer groups on the plan stream (the old
// intent_executor, governor, p33, ...). A group with a live consumer needs
// attention: an executor there places every plan again.
func readForeign(ctx context.Context, rdb redis.Cmdable, opt Options, _ time.Time, r *Report) error {
	groups, err := migrate.ForeignGroups(ctx, rdb, opt.Keys.ApplyPlan(), []string{opt.Group, keys.ApplyShadowGroup}, 0)
	if err != nil {
		return err
	}
	r.ForeignGroups = append([]migrate.Group{}, groups...)
	for _, g := range groups {
		if g.Live() {
			r.attention("foreign consumer group %s on %s has live consumers (%s): it is delivered every plan; an executor there would place each again (docs/migration.md, cut-over)",
				g.Name, opt.Keys.ApplyPlan(), strings.Join(g.LiveConsumers(), ", "))
		}
	}
	return nil
}
