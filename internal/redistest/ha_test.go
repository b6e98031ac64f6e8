package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
)

// TestSentinelsFailover checks the harness itself: the sentinels promote
// the replica after a SIGKILL of the primary.
func TestSentinelsFailover(t *testing.T) {
	s := redistest.StartSentinels(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old != s.Primary.Addr() {
		t.Fatalf("sentinels name %s, want the primary %s", old, s.Primary.Addr())
	}
	s.Primary.Kill()
	start := time.Now()
	promoted, err := s.WaitPromoted(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if promoted != s.Replica.Addr() {
		t.Fatalf("promoted %s, want the replica %s", promoted, s.Replica.Addr())
	}
	t.Logf("replica promoted %s after the SIGKILL", time.Since(start).Round(time.Millisecond))
}

// TestCluster checks the harness: three masters, slots spread, keys routed.
func TestCluster(t *testing.T) {
	rc := redistest.StartCluster(t)
	ctx := context.Background()
	c := rc.Client()
	defer c.Close()
	owners := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		n, err := rc.NodeFor(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		owners[n.Addr()] = true
	}
	if len(owners) < 2 {
		t.Fatalf("8 keys all on %v: the slots are not spread", owners)
	}
}
