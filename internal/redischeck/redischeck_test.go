package redischeck_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/internal/redistest"
)

func check(t *testing.T, args ...string) *redischeck.Report {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{Args: args})
	c := srv.Client()
	defer c.Close()
	r, err := redischeck.Check(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func refused(t *testing.T, r *redischeck.Report, setting string, fragments ...string) {
	t.Helper()
	err := r.Err()
	if !errors.Is(err, redischeck.ErrUnsafe) {
		t.Fatalf("not refused (findings %+v)", r.Findings)
	}
	for _, f := range append([]string{setting}, fragments...) {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("refusal lacks %q: %v", f, err)
		}
	}
}

func hasFinding(r *redischeck.Report, setting string) bool {
	for _, f := range r.Findings {
		if f.Setting == setting {
			return true
		}
	}
	return false
}

// TestRefusesNoPersistence: the test harness's own server (save "",
// appendonly no) is refused, naming the setting and the redis.conf fix.
func TestRefusesNoPersistence(t *testing.T) {
	r := check(t)
	if r.Source != redischeck.SourceConfig {
		t.Errorf("source %q", r.Source)
	}
	refused(t, r, "appendonly/save", `appendonly no, save ""`, "appendonly yes", "appendfsync everysec", "QUANTUM_ALLOW_UNSAFE_REDIS")
}

func TestAcceptsAOF(t *testing.T) {
	r := check(t, "--appendonly", "yes", "--maxmemory", "64mb")
	if err := r.Err(); err != nil {
		t.Fatalf("AOF + noeviction refused: %v", err)
	}
	if len(r.Findings) != 0 {
		t.Errorf("findings %+v", r.Findings)
	}
	f, ok := r.MemoryFraction()
	if !ok || f <= 0 || f >= 1 || r.Maxmemory != 64<<20 || r.UsedMemory <= 0 || r.MemoryNearLimit() {
		t.Errorf("memory: fraction %v %v, used %d max %d", f, ok, r.UsedMemory, r.Maxmemory)
	}
}

// TestMemoryNearLimit fills a real server to most of a small maxmemory.
func TestMemoryNearLimit(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--maxmemory", "4mb"}})
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	big := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		err := c.Set(ctx, fmt.Sprintf("k%d", i), big, 0).Err()
		if err != nil {
			if !strings.Contains(err.Error(), "OOM") {
				t.Fatal(err)
			}
			break // noeviction: the write is refused, nothing evicted
		}
	}
	r, err := redischeck.Check(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := r.MemoryFraction(); !r.MemoryNearLimit() {
		t.Fatalf("full Redis not near its limit: fraction %v (used %d, max %d)", f, r.UsedMemory, r.Maxmemory)
	}
}

// TestRDBOnlyWarns: snapshots are persistence, weaker: a finding, no refusal.
func TestRDBOnlyWarns(t *testing.T) {
	r := check(t, "--save", "900 1")
	if err := r.Err(); err != nil {
		t.Fatalf("RDB refused: %v", err)
	}
	if !hasFinding(r, redischeck.SettingPersistence) || !hasFinding(r, redischeck.SettingMaxmemory) {
		t.Errorf("findings %+v", r.Findings)
	}
}

func TestRefusesEviction(t *testing.T) {
	for _, p := range []string{"volatile-lru", "volatile-ttl", "volatile-lfu", "volatile-random", "allkeys-lru", "allkeys-lfu", "allkeys-random"} {
		t.Run(p, func(t *testing.T) {
			r := check(t, "--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", p)
			refused(t, r, "maxmemory-policy "+p, "maxmemory-policy noeviction")
			if hasFinding(r, redischeck.SettingPersistence) {
				t.Errorf("AOF on, yet %+v", r.Findings)
			}
		})
	}
}

// aclURL starts a server with users.acl-style lines and returns a client
// for user (password pw).
func aclClient(t *testing.T, aclLines string, user string, args ...string) *redis.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(path, []byte(aclLines), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, redistest.Options{Args: append([]string{"--aclfile", path}, args...)})
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), Username: user, Password: "pw"})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFallsBackToInfo: CONFIG GET refused by the ACL, INFO allowed: AOF on
// passes; AOF off is refused, since the save schedule is unknown.
func TestFallsBackToInfo(t *testing.T) {
	ctx := context.Background()
	acl := "user default off\nuser app on >pw -@all +ping +info +hello +auth\n"
	c := aclClient(t, acl, "app", "--appendonly", "yes", "--maxmemory", "64mb")
	if err := c.ConfigGet(ctx, "save").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("CONFIG GET allowed (%v): the test needs a user without +config", err)
	}
	r, err := redischeck.Check(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != redischeck.SourceInfo || r.Err() != nil || r.Maxmemory != 64<<20 || r.MaxmemoryPolicy != "noeviction" {
		t.Fatalf("INFO fallback: %+v (%v)", r, r.Err())
	}
	c = aclClient(t, acl, "app", "--save", "900 1")
	r, err = redischeck.Check(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, "appendonly/save", "save unknown", "CONFIG GET refused")
}

// TestRefusesUnreadable: neither CONFIG nor INFO allowed: refused, saying so.
func TestRefusesUnreadable(t *testing.T) {
	c := aclClient(t, "user default off\nuser app on >pw -@all +ping +hello +auth\n", "app", "--appendonly", "yes")
	r, err := redischeck.Check(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, "config-readable", "+info")
}

// TestDeployACL: the users of deploy/redis/users.acl can run the checks
// their commands need: the apply layer and the operator read the settings
// through INFO (not CONFIG), the refresh and the apply layer read TIME.
func TestDeployACL(t *testing.T) {
	b, err := os.ReadFile("../../deploy/redis/users.acl")
	if err != nil {
		t.Fatal(err)
	}
	acl := regexp.MustCompile(`>CHANGE-ME-[a-z-]+`).ReplaceAllString(string(b), ">pw")
	path := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(path, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, redistest.Options{Args: []string{"--aclfile", path, "--appendonly", "yes", "--maxmemory", "64mb"}})
	ctx := context.Background()
	as := func(user string) *redis.Client {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), Username: user, Password: "pw"})
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, user := range []string{"quantum-apply-layer", "quantum-operator"} {
		r, err := redischeck.Check(ctx, as(user))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if r.Source != redischeck.SourceInfo || r.Err() != nil || r.UsedMemory <= 0 {
			t.Errorf("%s: %+v (%v)", user, r, r.Err())
		}
		if err := as(user).ConfigGet(ctx, "requirepass").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%s may CONFIG GET (%v): the ACL grants +info only", user, err)
		}
	}
	for _, user := range []string{"quantum-refresh", "quantum-apply-layer"} {
		if _, err := redischeck.ClockOffset(ctx, as(user), time.Now); err != nil {
			t.Errorf("%s: %v", user, err)
		}
	}
}

// TestClockOffset: a local clock 105 minutes behind (the publisher)
// shows as Redis 105 minutes ahead; the true clock shows a small offset.
func TestClockOffset(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	got, err := redischeck.ClockOffset(ctx, c, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Abs() > time.Second {
		t.Errorf("same host, offset %s", got.Offset)
	}
	behind := func() time.Time { return time.Now().Add(-105 * time.Minute) }
	got, err = redischeck.ClockOffset(ctx, c, behind)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Offset - 105*time.Minute; d > time.Second || d < -time.Second {
		t.Errorf("clock 105m behind: offset %s", got.Offset)
	}
	if got.Abs() <= redischeck.SkewLimit(30*time.Minute) {
		t.Errorf("105m not beyond half of 30m")
	}
}

// TestCluster: every master of a real cluster is checked; each finding
// names its node.
func TestCluster(t *testing.T) {
	rc := redistest.StartCluster(t)
	c := rc.Client()
	defer c.Close()
	r, err := redischeck.Check(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for _, f := range r.Refusals() {
		if f.Setting == redischeck.SettingPersistence {
			nodes[f.Node] = true
		}
	}
	if len(nodes) != redistest.ClusterNodes {
		t.Fatalf("persistence refused on %v, want all %d masters", nodes, redistest.ClusterNodes)
	}
}

func TestAllowed(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "true": true, "YES": true, "": false, "0": false, "no": false, "maybe": false} {
		if redischeck.Allowed(v) != want {
			t.Errorf("Allowed(%q) = %v", v, !want)
		}
	}
}
