package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// Guard keeps an enforcing apply layer from running beside another
// executor on the plan stream: Check refuses the start, Watch keeps
// looking while it runs.
type Guard struct {
	Redis redis.Cmdable
	Keys  keys.Space
	Group string // the apply layer's own group (the shadow group is ours too)
	// Shadow is shadow mode, which runs beside other executors: that is its
	// purpose, so nothing is refused or logged as an error.
	Shadow bool
	Allow  bool // --allow-foreign-groups: start anyway, logged as an error
	// LiveWithin is how recently a foreign consumer was served to count as
	// live (DefaultLiveWithin when 0); Every is Watch's period (at least
	// 10ms).
	LiveWithin, Every time.Duration
	Log               *slog.Logger
}

// Check refuses an enforcing start while another consumer group on the
// plan stream has live consumers (the old intent_executor would place
// every plan again), unless Allow. It returns a message and false when the
// start must be refused. Groups without a live consumer are warned about.
func (g Guard) Check(ctx context.Context) (string, bool, error) {
	own := append([]string{g.Group}, keys.ApplyShadowGroup)
	groups, err := ForeignGroups(ctx, g.Redis, g.Keys.ApplyPlan(), own, g.LiveWithin)
	if err != nil {
		return "", false, err
	}
	live := LiveForeign(groups)
	for _, fg := range groups {
		if !fg.Live() {
			g.Log.Warn("another consumer group on the plan stream has no live consumer: a consumer starting there would receive every plan", "group", fg.Name, "consumers", len(fg.Consumers))
		}
	}
	if len(live) == 0 || g.Shadow {
		if len(live) > 0 {
			g.Log.Info("shadow mode beside other consumer groups", "groups", strings.Join(live, "; "))
		}
		return "", true, nil
	}
	msg := fmt.Sprintf("consumer group(s) on %s with live consumers: %s: every plan would be executed there too (a double order); stop them (docs/migration.md, cut-over), run --mode shadow beside them, or pass --allow-foreign-groups",
		g.Keys.ApplyPlan(), strings.Join(live, "; "))
	if g.Allow {
		g.Log.Error("FOREIGN CONSUMER GROUPS ALLOWED (--allow-foreign-groups): "+msg, "groups", strings.Join(live, "; "))
		return "", true, nil
	}
	return msg, false, nil
}

// Watch looks for live foreign groups every g.Every until ctx ends: an
// executor started after the apply layer doubles orders just the same.
// Each finding is an ERROR line (enforce mode) and the gauge
// quantum_apply_foreign_groups_live (registered on reg), for an alert.
func (g Guard) Watch(ctx context.Context, reg prometheus.Registerer) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "quantum_apply_foreign_groups_live",
		Help: "Other consumer groups on the plan stream with a live consumer (each is delivered every plan)."})
	reg.MustRegister(gauge)
	own := []string{g.Group, keys.ApplyShadowGroup}
	t := time.NewTicker(max(g.Every, 10*time.Millisecond))
	defer t.Stop()
	for {
		groups, err := ForeignGroups(ctx, g.Redis, g.Keys.ApplyPlan(), own, g.LiveWithin)
		if err == nil {
			live := LiveForeign(groups)
			gauge.Set(float64(len(live)))
			if len(live) > 0 && !g.Shadow {
				g.Log.Error("FOREIGN CONSUMER GROUPS LIVE on the plan stream: every plan is executed there too", "groups", strings.Join(live, "; "))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
