// Package redismon exports, at scrape time, state that lives in Redis and
// has no daemon of its own to export it: the heartbeats of the timer jobs
// (the exit-owner watch runs for a second every five minutes, so nothing
// of it is up to be scraped) and the Redis server's memory. `quantum
// alerts forward` registers it on its /metrics, so one always-running
// daemon serves it; the rules of deploy/prometheus key on it.
//
// Each scrape reads Redis once (a pipeline of HMGETs and INFO memory)
// within a short timeout. A failed read exports quantum_redis_scrape_ok 0
// and nothing else of this package, never a stale or zero value.
package redismon

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// Timeout bounds one scrape's Redis round trip.
const Timeout = 3 * time.Second

// Redis is what the collector needs (*redis.Client).
type Redis interface {
	Pipeline() redis.Pipeliner
}

// Collector is a prometheus.Collector over Redis. The heartbeat metrics carry the label task (the job name of keys.Space.Heartbeat): "job" is Prometheus's own target label.
type Collector struct {
	rdb  Redis
	keys keys.Space
	jobs []string

	ok, lastRun, lastOK, interval, used, maxMem *prometheus.Desc
}

// New returns a collector of the heartbeats of jobs (keys.Space.Heartbeat)
// and of Redis memory.
func New(rdb Redis, ks keys.Space, jobs []string) *Collector {
	task := []string{"task"}
	return &Collector{
		rdb: rdb, keys: ks, jobs: jobs,
		ok: prometheus.NewDesc("quantum_redis_scrape_ok", "1 when this scrape could read Redis (heartbeats, INFO memory), else 0.", nil, nil),
		lastRun: prometheus.NewDesc("quantum_heartbeat_last_run_timestamp_seconds",
			"Unix time of the job's last run, from its heartbeat hash (any outcome).", task, nil),
		lastOK: prometheus.NewDesc("quantum_heartbeat_last_ok_timestamp_seconds",
			"Unix time of the job's last run without error, from its heartbeat hash.", task, nil),
		interval: prometheus.NewDesc("quantum_heartbeat_interval_seconds",
			"How often the job says it runs (interval_sec of its heartbeat).", task, nil),
		used:   prometheus.NewDesc("quantum_redis_used_memory_bytes", "Redis INFO memory used_memory.", nil, nil),
		maxMem: prometheus.NewDesc("quantum_redis_maxmemory_bytes", "Redis INFO memory maxmemory (0: no limit).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ok, c.lastRun, c.lastOK, c.interval, c.used, c.maxMem} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	pipe := c.rdb.Pipeline()
	hbs := make([]*redis.SliceCmd, len(c.jobs))
	for i, j := range c.jobs {
		hbs[i] = pipe.HMGet(ctx, c.keys.Heartbeat(j), "last_run_at", "last_ok_at", "interval_sec")
	}
	info := pipe.Info(ctx, "memory")
	if _, err := pipe.Exec(ctx); err != nil {
		ch <- prometheus.MustNewConstMetric(c.ok, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.ok, prometheus.GaugeValue, 1)
	for i, j := range c.jobs {
		vals := hbs[i].Val()
		for k, d := range []*prometheus.Desc{c.lastRun, c.lastOK, c.interval} {
			if s, ok := vals[k].(string); ok {
				if n, err := strconv.ParseFloat(s, 64); err == nil {
					ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, n, j)
				}
			}
		}
	}
	mem := ParseInfo(info.Val())
	for name, d := range map[string]*prometheus.Desc{"used_memory": c.used, "maxmemory": c.maxMem} {
		if n, err := strconv.ParseFloat(mem[name], 64); err == nil {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, n)
		}
	}
}

// ParseInfo reads the key:value lines of an INFO reply.
func ParseInfo(s string) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}
