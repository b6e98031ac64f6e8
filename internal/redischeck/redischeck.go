// Package redischeck reads the Redis settings that decide the governance
// core's promises and says which of them break one, with the fix.
//
// The promises ("exactly once at the exchange", "nothing acknowledged is
// lost", "no policy, no trade") assume a Redis that keeps what it
// acknowledged. Two settings silently break them, and fault injection on
// real processes showed both:
//
//   - persistence: with appendonly no and no RDB save schedule, a restart
//     empties Redis: acknowledged plans are gone, the execution records
//     that stop a replay are gone, so replayed plans execute again;
//   - eviction: any maxmemory-policy but noeviction lets Redis delete keys
//     under memory pressure. volatile-* evicts only keys with a TTL, which
//     is exactly the execution records (a replay then executes again while
//     everything looks healthy); allkeys-* may evict the live policy itself.
//
// Check reads them with CONFIG GET and, when the ACL refuses it (the
// deployment's users have +info, not +config: CONFIG GET would also show
// every other setting), from INFO persistence, INFO memory and INFO
// replication. INFO shows whether AOF is on but not the RDB save schedule:
// with AOF off and no CONFIG GET, persistence is unknown, and unknown is
// refused like absent (fail closed). When nothing can be read at all the
// report refuses with that reason.
//
// A Report lists Findings, each naming the setting, the value seen, what it
// breaks and the redis.conf line that fixes it. Refusing findings make Err
// non-nil; callers refuse to start on it unless the operator allowed an
// unsafe Redis explicitly (AllowEnv, for quantum dev and tests).
//
// Memory (used_memory against maxmemory, for status to warn near the
// limit) and the clock (local time against Redis TIME) are read here too.
package redischeck

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// AllowEnv is the variable that, set to 1, true or yes, allows running on
// a Redis whose configuration Check refuses (quantum dev, tests); the
// commands' flag is --allow-unsafe-redis.
const AllowEnv = "QUANTUM_ALLOW_UNSAFE_REDIS"

// AllowFlag is the name of the commands' flag with the effect of AllowEnv.
const AllowFlag = "allow-unsafe-redis"

// AllowUsage is the --allow-unsafe-redis flag's help.
const AllowUsage = "run on a Redis without persistence or with key eviction, which breaks exactly-once and nothing-lost: for quantum dev and tests only (env " + AllowEnv + "=1)"

// Allowed reports whether the value of AllowEnv allows an unsafe Redis.
func Allowed(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// Settings named in findings.
const (
	SettingPersistence     = "appendonly/save"
	SettingAppendfsync     = "appendfsync"
	SettingMaxmemoryPolicy = "maxmemory-policy"
	SettingMaxmemory       = "maxmemory"
	SettingReadable        = "config-readable"
)

// Sources of a report.
const (
	SourceConfig = "CONFIG GET"
	SourceInfo   = "INFO"
)

// Finding is one setting that breaks, or weakens, a promise.
type Finding struct {
	Node    string `json:"node,omitempty"` // the cluster node; "" for a single server
	Setting string `json:"setting"`        // the redis.conf directive, such as maxmemory-policy
	Value   string `json:"value"`          // what Redis reported; "unknown" when unreadable
	Problem string `json:"problem"`        // what it breaks
	Fix     string `json:"fix"`            // the fix: the redis.conf line(s), or the ACL grant
	Refuse  bool   `json:"refuse"`         // true: the apply layer must not run on it
}

func (f Finding) String() string {
	node := ""
	if f.Node != "" {
		node = " on " + f.Node
	}
	return fmt.Sprintf("%s %s%s: %s; fix: %s", f.Setting, f.Value, node, f.Problem, f.Fix)
}

// Report is what Check read and found.
type Report struct {
	Source          string    `json:"source"` // SourceConfig, SourceInfo, or "" when nothing was readable
	AppendOnly      string    `json:"appendonly"`
	Save            string    `json:"save"` // "" when none or not readable (see Source)
	Appendfsync     string    `json:"appendfsync,omitempty"`
	MaxmemoryPolicy string    `json:"maxmemory_policy"`
	Maxmemory       int64     `json:"maxmemory"`   // bytes; 0 is no limit
	UsedMemory      int64     `json:"used_memory"` // bytes, from INFO memory; -1 when not readable
	Replicas        int       `json:"connected_replicas"`
	Findings        []Finding `json:"findings"`
}

// Refusals returns the findings that refuse.
func (r *Report) Refusals() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Refuse {
			out = append(out, f)
		}
	}
	return out
}

// Err returns nil when no finding refuses, else an error naming each
// refusing setting with its fix.
func (r *Report) Err() error {
	ref := r.Refusals()
	if len(ref) == 0 {
		return nil
	}
	msgs := make([]string, len(ref))
	for i, f := range ref {
		msgs[i] = f.String()
	}
	return fmt.Errorf("%w: %s (or, for quantum dev and tests only, --%s / %s=1)", ErrUnsafe, strings.Join(msgs, "; "), AllowFlag, AllowEnv)
}

// ErrUnsafe is wrapped by Report.Err.
var ErrUnsafe = errors.New("unsafe Redis configuration")

// MemoryWarnFraction is the used_memory / maxmemory at or above which
// status needs attention: past it, Redis is one burst away from refusing
// writes (noeviction).
const MemoryWarnFraction = 0.9

// MemoryNearLimit reports whether used memory is at or above
// MemoryWarnFraction of maxmemory; false without a limit or without the
// figures.
func (r *Report) MemoryNearLimit() bool {
	f, ok := r.MemoryFraction()
	return ok && f >= MemoryWarnFraction
}

// MemoryFraction returns used_memory / maxmemory, and false when there is
// no limit or the figures could not be read.
func (r *Report) MemoryFraction() (float64, bool) {
	if r.Maxmemory <= 0 || r.UsedMemory < 0 {
		return 0, false
	}
	return float64(r.UsedMemory) / float64(r.Maxmemory), true
}

// Check reads the configuration of rdb's server (of every master, for a
// *redis.ClusterClient) and returns the report. Its error is for a Redis
// that cannot be reached at all; an ACL refusal is a finding, not an error.
func Check(ctx context.Context, rdb redis.Cmdable) (*Report, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return checkNode(ctx, rdb, "")
	}
	var (
		mu  sync.Mutex
		all *Report
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		r, err := checkNode(ctx, c, c.Options().Addr)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if all == nil {
			all = r
			return nil
		}
		all.Findings = append(all.Findings, r.Findings...)
		all.UsedMemory = max(all.UsedMemory, r.UsedMemory) // the fullest node is the one to watch
		if r.Maxmemory > 0 && (all.Maxmemory == 0 || r.Maxmemory < all.Maxmemory) {
			all.Maxmemory = r.Maxmemory
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

func checkNode(ctx context.Context, rdb redis.Cmdable, node string) (*Report, error) {
	r := &Report{UsedMemory: -1}
	cfg, cfgErr := configGet(ctx, rdb, "appendonly", "save", "appendfsync", "maxmemory-policy", "maxmemory")
	info, infoErr := infoSections(ctx, rdb, "persistence", "memory", "replication")
	switch {
	case cfgErr == nil:
		r.Source = SourceConfig
		r.AppendOnly, r.Save, r.Appendfsync, r.MaxmemoryPolicy = cfg["appendonly"], strings.TrimSpace(cfg["save"]), cfg["appendfsync"], cfg["maxmemory-policy"]
		r.Maxmemory, _ = strconv.ParseInt(cfg["maxmemory"], 10, 64)
	case infoErr == nil:
		r.Source = SourceInfo
		r.AppendOnly = map[string]string{"1": "yes", "0": "no"}[info["aof_enabled"]]
		r.MaxmemoryPolicy = info["maxmemory_policy"]
		r.Maxmemory, _ = strconv.ParseInt(info["maxmemory"], 10, 64)
	case !isNoPerm(cfgErr) && !isNoPerm(infoErr):
		return nil, fmt.Errorf("redischeck: %w", errors.Join(cfgErr, infoErr))
	}
	if infoErr == nil {
		if v, err := strconv.ParseInt(info["used_memory"], 10, 64); err == nil {
			r.UsedMemory = v
		}
		r.Replicas, _ = strconv.Atoi(info["connected_slaves"])
	}
	r.Findings = findings(r, node)
	return r, nil
}

func findings(r *Report, node string) []Finding {
	var out []Finding
	add := func(f Finding) { f.Node = node; out = append(out, f) }
	if r.Source == "" {
		add(Finding{Setting: SettingReadable, Value: "unknown", Refuse: true,
			Problem: "neither CONFIG GET nor INFO is allowed to this user, so persistence and eviction cannot be checked",
			Fix:     "grant the user +info in the ACL (deploy/redis/users.acl does)"})
		return out
	}
	switch {
	case r.AppendOnly == "yes":
		if r.Appendfsync == "no" {
			add(Finding{Setting: SettingAppendfsync, Value: "no",
				Problem: "the OS decides when the AOF reaches the disk: a power loss may lose up to ~30s of acknowledged writes",
				Fix:     "redis.conf: appendfsync everysec"})
		}
	case r.Source == SourceInfo:
		add(Finding{Setting: SettingPersistence, Value: "appendonly no, save unknown (CONFIG GET refused)", Refuse: true,
			Problem: "AOF is off and the RDB save schedule cannot be read: a restart may lose every acknowledged plan and the execution records, and replays would execute again",
			Fix:     "redis.conf: appendonly yes / appendfsync everysec (or grant +config|get so that a save schedule can be seen)"})
	case r.Save == "":
		add(Finding{Setting: SettingPersistence, Value: `appendonly no, save ""`, Refuse: true,
			Problem: "no persistence: a restart loses every acknowledged plan and the execution records, and replays execute again",
			Fix:     "redis.conf: appendonly yes / appendfsync everysec"})
	default:
		add(Finding{Setting: SettingPersistence, Value: fmt.Sprintf("appendonly no, save %q", r.Save),
			Problem: "RDB snapshots only: a crash loses the writes since the last snapshot (plans acknowledged since, execution records)",
			Fix:     "redis.conf: appendonly yes / appendfsync everysec"})
	}
	switch p := r.MaxmemoryPolicy; {
	case p == "noeviction":
	case strings.HasPrefix(p, "volatile-"):
		add(Finding{Setting: SettingMaxmemoryPolicy, Value: p, Refuse: true,
			Problem: "evicts keys with a TTL under memory pressure: the execution records have one, and a replay of an evicted record executes again",
			Fix:     "redis.conf: maxmemory-policy noeviction"})
	case strings.HasPrefix(p, "allkeys-"):
		add(Finding{Setting: SettingMaxmemoryPolicy, Value: p, Refuse: true,
			Problem: "evicts any key under memory pressure: the live policy, plans, execution records",
			Fix:     "redis.conf: maxmemory-policy noeviction"})
	default:
		add(Finding{Setting: SettingMaxmemoryPolicy, Value: orUnknown(p), Refuse: true,
			Problem: "an eviction policy this check does not know: it may evict keys",
			Fix:     "redis.conf: maxmemory-policy noeviction"})
	}
	if r.Maxmemory == 0 && r.MaxmemoryPolicy == "noeviction" {
		add(Finding{Setting: SettingMaxmemory, Value: "0",
			Problem: "no memory limit: Redis grows until the OS kills it, instead of refusing writes with an error the apply layer reports",
			Fix:     "redis.conf: maxmemory <bytes> (docs/deploy.md: sizing)"})
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func configGet(ctx context.Context, rdb redis.Cmdable, names ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		m, err := rdb.ConfigGet(ctx, n).Result()
		if err != nil {
			return nil, err
		}
		v, ok := m[n]
		if !ok {
			return nil, fmt.Errorf("CONFIG GET %s: no such setting", n)
		}
		out[n] = v
	}
	return out, nil
}

func infoSections(ctx context.Context, rdb redis.Cmdable, sections ...string) (map[string]string, error) {
	text, err := rdb.Info(ctx, sections...).Result()
	if err != nil {
		return nil, err
	}
	return parseInfo(text), nil
}

// parseInfo reads the key:value lines of an INFO reply.
func parseInfo(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

func isNoPerm(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOPERM")
}

// Clock is the offset of Redis's clock from the local one.
type Clock struct {
	// Offset is Redis TIME minus the local time at the middle of the round
	// trip: positive when Redis is ahead.
	Offset time.Duration
	// RTT is the round trip of the TIME command; the offset is known to
	// within half of it.
	RTT   time.Duration
	Redis time.Time // the time Redis returned
}

// Abs returns the offset's magnitude.
func (c Clock) Abs() time.Duration {
	if c.Offset < 0 {
		return -c.Offset
	}
	return c.Offset
}

// ClockOffset compares now with Redis TIME. Callers alarm beyond half the
// freshness window they depend on (SkewLimit).
func ClockOffset(ctx context.Context, rdb redis.Cmdable, now func() time.Time) (Clock, error) {
	t0 := now()
	rt, err := rdb.Time(ctx).Result()
	t1 := now()
	if err != nil {
		return Clock{}, fmt.Errorf("redischeck: TIME: %w", err)
	}
	rtt := t1.Sub(t0)
	mid := t0.Add(rtt / 2)
	return Clock{Offset: rt.Sub(mid), RTT: rtt, Redis: rt}, nil
}

// SkewLimit is the largest clock offset a component may tolerate when it
// depends on a freshness window: half of it.
func SkewLimit(window time.Duration) time.Duration { return window / 2 }
