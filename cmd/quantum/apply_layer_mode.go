package main

import (
	"context"

	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/migrate"
)

// Modes of apply-layer --mode.
const (
	modeEnforce = "enforce"
	modeShadow  = "shadow"
)

// modeFlags are apply-layer's migration flags: shadow mode, and the refusal
// to run beside another executor.
type modeFlags struct {
	mode          string
	allowForeign  bool
	foreignWithin time.Duration
	foreignEvery  time.Duration
}

func (m *modeFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&m.mode, "mode", cli.EnvOr(getenv, "QUANTUM_APPLY_MODE", modeEnforce), "`mode`: enforce (gate and place) or shadow (gate every plan, write what would have been done to quantum:stream:apply.shadow, never call the venue) (env QUANTUM_APPLY_MODE)")
	fs.BoolVar(&m.allowForeign, "allow-foreign-groups", false, "start in enforce mode although another consumer group on the plan stream has live consumers (each plan would be executed there too): logged as an error at start")
	fs.DurationVar(&m.foreignWithin, "foreign-live-within", migrate.DefaultLiveWithin, "a consumer of another group served within this `DURATION` counts as live")
	fs.DurationVar(&m.foreignEvery, "foreign-check-interval", time.Minute, "while running, look for other consumer groups with live consumers this often (an ERROR line and quantum_apply_foreign_groups_live)")
}

// watchForeign looks for live foreign groups every --foreign-check-interval
// while the apply layer runs: an executor started after us doubles orders
// just the same. Each finding is an ERROR line (enforce mode) and the gauge
// quantum_apply_foreign_groups_live, for an alert.
func (m *modeFlags) watchForeign(ctx context.Context, rdb cli.RedisClient, ks keys.Space, group string, log *slog.Logger, reg prometheus.Registerer) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "quantum_apply_foreign_groups_live",
		Help: "Other consumer groups on the plan stream with a live consumer (each is delivered every plan)."})
	reg.MustRegister(gauge)
	own := []string{group, keys.ApplyShadowGroup}
	t := time.NewTicker(max(m.foreignEvery, 10*time.Millisecond))
	defer t.Stop()
	for {
		groups, err := migrate.ForeignGroups(ctx, rdb, ks.ApplyPlan(), own, m.foreignWithin)
		if err == nil {
			live := migrate.LiveForeign(groups)
			gauge.Set(float64(len(live)))
			if len(live) > 0 && m.mode == modeEnforce {
				log.Error("FOREIGN CONSUMER GROUPS LIVE on the plan stream: every plan is executed there too", "groups", strings.Join(live, "; "))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *modeFlags) check() error {
	if m.mode != modeEnforce && m.mode != modeShadow {
		return fmt.Errorf("--mode %q: want enforce or shadow", m.mode)
	}
	return nil
}

// checkForeign refuses an enforcing start while another consumer group on
// the plan stream has live consumers (the old intent_executor would place
// every plan again), unless --allow-foreign-groups. It returns a message
// and false when the start must be refused. Shadow mode runs beside them:
// that is its purpose.
func (m *modeFlags) checkForeign(ctx context.Context, rdb cli.RedisClient, ks keys.Space, group string, log *slog.Logger) (string, bool, error) {
	own := append([]string{group}, keys.ApplyShadowGroup)
	groups, err := migrate.ForeignGroups(ctx, rdb, ks.ApplyPlan(), own, m.foreignWithin)
	if err != nil {
		return "", false, err
	}
	live := migrate.LiveForeign(groups)
	for _, g := range groups {
		if !g.Live() {
			log.Warn("another consumer group on the plan stream has no live consumer: a consumer starting there would receive every plan", "group", g.Name, "consumers", len(g.Consumers))
		}
	}
	if len(live) == 0 || m.mode == modeShadow {
		if len(live) > 0 {
			log.Info("shadow mode beside other consumer groups", "groups", strings.Join(live, "; "))
		}
		return "", true, nil
	}
	msg := fmt.Sprintf("consumer group(s) on %s with live consumers: %s: every plan would be executed there too (a double order); stop them (docs/migration.md, cut-over), run --mode shadow beside them, or pass --allow-foreign-groups",
		ks.ApplyPlan(), strings.Join(live, "; "))
	if m.allowForeign {
		log.Error("FOREIGN CONSUMER GROUPS ALLOWED (--allow-foreign-groups): "+msg, "groups", strings.Join(live, "; "))
		return "", true, nil
	}
	return msg, false, nil
}
