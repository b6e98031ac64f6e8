package status_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/status"
)

// redisAttention returns the attention lines about Redis.
func redisAttention(r *status.Report) []string {
	var out []string
	for _, a := range r.Attention {
		if strings.HasPrefix(a, "Redis ") {
			out = append(out, a)
		}
	}
	return out
}

// fillTo sets maxmemory just above what the server uses now, so that it is
// at the edge of its limit (at least MemoryWarnFraction of it).
func fillTo(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	for i := range 200 { // some data, so that used_memory is not all fixed overhead
		if err := c.Set(ctx, "fill:"+strconv.Itoa(i), strings.Repeat("x", 4096), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if used <= 0 {
		t.Fatalf("no used_memory in INFO memory:\n%s", info)
	}
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+used/50, 10)).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisSettings reads real servers started with each configuration and
// checks what status says about it and what needs attention.
func TestRedisSettings(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		prepare func(t *testing.T, c *redis.Client)
		opt     func(o *status.Options)
		want    []string // substrings, each in one Redis attention line; none: no Redis attention
		check   func(t *testing.T, rd *status.Redis)
	}{
		{name: "no persistence", args: []string{"--appendonly", "no", "--save", ""},
			want: []string{`appendonly/save appendonly no, save ""`, "appendonly yes"},
			check: func(t *testing.T, rd *status.Redis) {
				if rd.AppendOnly != "no" || rd.Save != "" {
					t.Errorf("appendonly %q save %q", rd.AppendOnly, rd.Save)
				}
			}},
		{name: "allkeys-lru evicts", args: []string{"--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"},
			want: []string{"maxmemory-policy allkeys-lru", "maxmemory-policy noeviction"}},
		{name: "volatile-lru evicts the records", args: []string{"--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"},
			want: []string{"maxmemory-policy volatile-lru"}},
		{name: "memory near maxmemory", args: []string{"--appendonly", "yes"}, prepare: fillTo,
			want: []string{"used_memory", "of maxmemory", "attention from 90%"},
			check: func(t *testing.T, rd *status.Redis) {
				// Over 1 is possible: with noeviction reads still allocate.
				if rd.MemoryFraction == nil || *rd.MemoryFraction < status.MemoryWarnFraction {
					t.Errorf("memory fraction %v (used %d, max %d)", rd.MemoryFraction, rd.UsedMemory, rd.Maxmemory)
				}
			}},
		{name: "fewer replicas than min-replicas", args: []string{"--appendonly", "yes", "--maxmemory", "64mb"},
			opt:  func(o *status.Options) { o.MinReplicas = 1 },
			want: []string{"0 connected replica(s), under --min-replicas 1", "REDIS_NOT_REPLICATED"}},
		{name: "healthy", args: []string{"--appendonly", "yes", "--maxmemory", "64mb"},
			check: func(t *testing.T, rd *status.Redis) {
				if rd.AppendOnly != "yes" || rd.MaxmemoryPolicy != "noeviction" || rd.Maxmemory != 64<<20 || rd.UsedMemory <= 0 ||
					rd.MemoryFraction == nil || *rd.MemoryFraction >= status.MemoryWarnFraction || len(rd.Findings) != 0 {
					t.Errorf("healthy Redis read as %+v (fraction %v)", rd.Report, rd.MemoryFraction)
				}
				lines := strings.Join(rd.Lines(), "\n")
				for _, w := range []string{"appendonly yes", "maxmemory-policy noeviction", "of maxmemory 64.0 MiB", "connected replicas 0"} {
					if !strings.Contains(lines, w) {
						t.Errorf("lines lack %q:\n%s", w, lines)
					}
				}
			}},
		{name: "unsafe allowed: reported, not counted", args: []string{"--appendonly", "no", "--save", "", "--maxmemory-policy", "allkeys-lru"},
			opt: func(o *status.Options) { o.AllowUnsafeRedis = true },
			check: func(t *testing.T, rd *status.Redis) {
				if !rd.UnsafeAllowed || len(rd.Refusals()) != 2 {
					t.Errorf("allowed: %+v", rd.Report)
				}
				lines := strings.Join(rd.Lines(), "\n")
				if strings.Count(lines, "UNSAFE (allowed)") != 2 || !strings.Contains(lines, "maxmemory-policy allkeys-lru") {
					t.Errorf("lines do not show the allowed findings:\n%s", lines)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{Args: c.args})
			cl := srv.Client()
			defer cl.Close()
			if c.prepare != nil {
				c.prepare(t, cl)
			}
			opt := status.Options{Keys: keys.MustNew("st"), Now: time.Now}
			if c.opt != nil {
				c.opt(&opt)
			}
			r, err := status.Collect(context.Background(), cl, opt)
			if err != nil {
				t.Fatal(err)
			}
			got := redisAttention(r)
			if len(c.want) == 0 && len(got) > 0 {
				t.Errorf("Redis attention %q, want none", got)
			}
			for _, w := range c.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("Redis attention %q lacks %q", got, w)
				}
			}
			if r.Redis == nil || r.Redis.Report == nil {
				t.Fatalf("no Redis settings in the report: %+v", r.Redis)
			}
			if c.check != nil {
				c.check(t, r.Redis)
			}
			// The JSON carries the settings under "redis".
			b, _ := json.Marshal(r)
			var back struct {
				Redis map[string]any `json:"redis"`
			}
			if err := json.Unmarshal(b, &back); err != nil || back.Redis["maxmemory_policy"] == nil || back.Redis["appendonly"] == nil {
				t.Errorf("JSON redis %v (%v)", back.Redis, err)
			}
		})
	}
}

// TestRedisUnreadable: without --allow-unsafe-redis a configuration that
// cannot be read is "could not check"; with it status goes on and says so.
func TestRedisUnreadable(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes"}})
	cl := srv.Client()
	defer cl.Close()
	ctx := context.Background()
	// A user that may run everything status reads but CONFIG and INFO.
	if err := cl.Do(ctx, "ACL", "SETUSER", "blind", "on", ">pw", "~*", "+@all", "-config", "-info").Err(); err != nil {
		t.Fatal(err)
	}
	blind := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), Username: "blind", Password: "pw"})
	defer blind.Close()
	r, err := status.Collect(ctx, blind, status.Options{Keys: keys.MustNew("st"), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Unreadable is a refusing finding (config-readable), so it needs attention.
	if got := redisAttention(r); len(got) != 1 || !strings.Contains(got[0], "config-readable unknown") {
		t.Fatalf("Redis attention %q, want config-readable", got)
	}
}
