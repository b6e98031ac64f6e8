package watch

import (
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
)

// Client is a Redis client for both the watch and its alerts
// (*redis.Client, or any redis.UniversalClient).
type Client interface {
	Redis
	redis.Scripter
}

// Open is New with cfg.Redis set to rdb and cfg.Alerts to an alert
// publisher on rdb under cfg.Keys (alert.New), as `quantum exit-owner
// watch` and `quantum dev` run it.
func Open(rdb Client, cfg Config) (*Watcher, error) {
	alerts, err := alert.New(rdb, alert.Options{Keys: cfg.Keys, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	cfg.Redis, cfg.Alerts = rdb, alerts
	return New(cfg)
}
