package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
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

func (m *modeFlags) check() error {
	if m.mode != modeEnforce && m.mode != modeShadow {
		return fmt.Errorf("--mode %q: want enforce or shadow", m.mode)
	}
	return nil
}

// guard is the refusal to run beside another executor, for group.
func (m *modeFlags) guard(c *cli.Invocation, rdb cli.RedisClient, group string) migrate.Guard {
	return migrate.Guard{Redis: rdb, Keys: c.Keys(), Group: group, Shadow: m.mode == modeShadow, Allow: m.allowForeign,
		LiveWithin: m.foreignWithin, Every: m.foreignEvery, Log: c.Logger()}
}
