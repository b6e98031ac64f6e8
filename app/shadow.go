package app

import (
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/shadow"
	"github.com/quantumtrader/quantum/keys"
)

// shadowConfig turns an apply layer into its shadow: the venue only reads
// (exchange/shadow), results go to quantum:stream:apply.shadow, the group
// is apply_layer_shadow unless one is given, and records, leases and rate
// counters live in a namespace of their own, so that a shadow beside the
// enforcing layer (or beside the old executor) never contends with it and
// decides every plan as it would.
func shadowConfig(cfg *applylayer.Config, venue *exchange.Venue) error {
	v, err := shadow.New(*venue)
	if err != nil {
		return err
	}
	*venue = v
	if cfg.Group == "" || cfg.Group == keys.ApplyGroup {
		cfg.Group = keys.ApplyShadowGroup
	}
	cfg.Results = cfg.Keys.ApplyShadow()
	cfg.State = cfg.Keys.ShadowState()
	cfg.Shadow = true
	return nil
}
