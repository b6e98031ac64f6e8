package applylayer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
)

// TestRedisRestartMidLoad stops Redis while plans flow and starts it again:
// processing resumes by itself, every plan gets exactly one result, and
// every order placed ran under a verified policy.
func TestRedisRestartMidLoad(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	rdb := srv.Client()
	defer rdb.Close()
	w := newWorld(t, rdb, keys.MustNew("outage"))
	w.start(nil)

	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	var sent []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a producer that retries through the outage, as the Python services do
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			f := sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false))
			for ctx.Err() == nil {
				if err := rdb.XAdd(ctx, xaddArgs(w, f)).Err(); err == nil {
					mu.Lock()
					sent = append(sent, f["plan_id"])
					mu.Unlock()
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	time.Sleep(700 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	// A plan sent after the restart is processed without any intervention.
	probe := sign(w.fields("exitbrain_v3_5", "SOLUSDT", "SELL", "1", true))
	for rdb.XAdd(context.Background(), xaddArgs(w, probe)).Err() != nil {
		time.Sleep(20 * time.Millisecond)
	}
	wantResult(t, w.result(probe["plan_id"], 1)[0], "EXECUTED", "")
	t.Logf("processing resumed %s after Redis came back", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(sent) < 20 {
		t.Fatalf("only %d plans sent: the load did not run", len(sent))
	}
	executed := 0
	for _, id := range sent {
		// An XADD whose reply the outage cut off may have landed: the
		// producer's retry then puts the plan on a second entry, and one of
		// the two is answered PLAN_REPLAYED. Exactly one is decided.
		decided := func(all []map[string]string) (r []map[string]string) {
			for _, x := range all {
				if x["reason"] != "PLAN_REPLAYED" {
					r = append(r, x)
				}
			}
			return r
		}
		all := w.result(id, 1)
		for len(decided(all)) == 0 { // the replayed entry answered first
			all = w.result(id, len(all)+1)
		}
		r := decided(all)
		if len(r) != 1 {
			t.Fatalf("plan %s: %d results other than PLAN_REPLAYED: %v", id, len(r), r)
		}
		if r[0]["decision"] == "EXECUTED" {
			executed++
			if r[0]["policy_hash"] == "" || r[0]["policy_seq"] == "" {
				t.Fatalf("an order placed without a verified policy: %v", r[0])
			}
		}
	}
	if n := w.orderCount(); n != executed+1 {
		t.Fatalf("venue holds %d orders, %d plans executed (+1 probe)", n, executed)
	}
	t.Logf("%d plans sent through the outage, %d executed", len(sent), executed)
}
