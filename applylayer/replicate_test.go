package applylayer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/reason"
)

// TestNotSentUnlessReplicated: with --min-replicas 1 on a real primary and
// replica, a plan executes while the replica follows; with the replica
// paused (SIGSTOP: it acknowledges nothing), the plan is FAILED
// REDIS_NOT_REPLICATED and nothing reaches the venue; when it resumes,
// plans execute again.
func TestNotSentUnlessReplicated(t *testing.T) {
	primary := redistest.Start(t, redistest.Options{TCP: true})
	replica := redistest.Start(t, redistest.Options{TCP: true, Args: []string{"--replicaof", "127.0.0.1", fmt.Sprint(primaryPort(t, primary))}})
	t.Cleanup(replica.Resume)
	rdb := primary.Client()
	defer rdb.Close()
	waitFor(t, "the replica in sync", func() bool {
		n, err := rdb.Do(context.Background(), "WAIT", 1, 100).Int()
		return err == nil && n == 1
	})
	w := newWorld(t, rdb, keys.MustNew("repl"))
	w.start(func(c *applylayer.Config) { c.MinReplicas = 1; c.ReplicaWait = 300 * time.Millisecond })
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	orders := w.orderCount()
	replica.Pause()
	r := w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)))
	wantResult(t, r, "FAILED", reason.RedisNotReplicated)
	if w.orderCount() != orders {
		t.Fatalf("%d orders after an unreplicated plan, want %d", w.orderCount(), orders)
	}
	replica.Resume()
	waitFor(t, "the replica back", func() bool {
		n, err := rdb.Do(context.Background(), "WAIT", 1, 100).Int()
		return err == nil && n == 1
	})
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
}

func primaryPort(t *testing.T, s *redistest.Server) string {
	t.Helper()
	addr := s.Addr()
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	t.Fatalf("no port in %q", addr)
	return ""
}
