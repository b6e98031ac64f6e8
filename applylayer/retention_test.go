package applylayer_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redistest"
)

// TestRetention: acknowledged plans older than the record TTL are trimmed,
// a plan still pending on a dead consumer is not, nor anything after it;
// results older than the retention are trimmed; a dead consumer with
// nothing pending is removed and one with a pending plan is kept.
func TestRetention(t *testing.T) {
	defer applylayer.SetHousekeepEvery(100 * time.Millisecond)()
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	ctx := context.Background()
	short := func(c *applylayer.Config) {
		c.Freshness, c.RecordTTL, c.ResultRetention, c.ConsumerGrace = 500*time.Millisecond, time.Second, time.Second, 200*time.Millisecond
		c.ClaimIdle = time.Hour // the dead consumer's plan stays pending on it
	}
	if err := env.Client.XGroupCreateMkStream(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	// A consumer that read a plan and died; another that read nothing.
	held := w.xadd(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false)))
	if err := env.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: applylayer.DefaultGroup, Consumer: "dead-holding",
		Streams: []string{env.Keys.ApplyPlan(), ">"}, Count: 1, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.XGroupCreateConsumer(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup, "dead-empty").Err(); err != nil {
		t.Fatal(err)
	}
	w.start(short)
	for range 3 {
		w.send(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false)))
	}
	time.Sleep(1500 * time.Millisecond) // past the TTL; housekeeping runs
	waitFor(t, "results trimmed", func() bool {
		n, _ := env.Client.XLen(ctx, env.Keys.ApplyResult()).Result()
		return n == 0
	})
	msgs, err := env.Client.XRange(ctx, env.Keys.ApplyPlan(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 || msgs[0].ID != held {
		t.Fatalf("plan stream %v: the pending plan %s must stay (and the stream is trimmed only before it)", msgs, held)
	}
	cs, err := env.Client.XInfoConsumers(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup).Result()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range cs {
		names[c.Name] = true
	}
	if names["dead-empty"] || !names["dead-holding"] {
		t.Fatalf("consumers %v: want dead-empty removed, dead-holding (a pending plan) kept", names)
	}
}

// TestRetentionTrimsAcknowledgedPlans: with nothing pending, the plans
// acknowledged longer ago than the record TTL are gone.
func TestRetentionTrimsAcknowledgedPlans(t *testing.T) {
	defer applylayer.SetHousekeepEvery(100 * time.Millisecond)()
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(func(c *applylayer.Config) {
		c.Freshness, c.RecordTTL = 500*time.Millisecond, time.Second
	})
	for range 3 {
		w.send(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false)))
	}
	waitFor(t, "acknowledged plans trimmed", func() bool {
		n, _ := env.Client.XLen(context.Background(), env.Keys.ApplyPlan()).Result()
		return n <= 1 // the newest entry may stay: MINID keeps ids at the limit
	})
}

// TestRetentionKeepsWhatAnotherGroupHasNotRead: during a migration other
// groups read the plan stream (a shadow, the old executor's): the trim
// never removes a plan one of them has not read. Before, only our group
// bounded it, and a lagging shadow lost its plans (and would have read our
// trim as tampering).
func TestRetentionKeepsWhatAnotherGroupHasNotRead(t *testing.T) {
	defer applylayer.SetHousekeepEvery(100 * time.Millisecond)()
	env := redistest.New(t)
	ctx := context.Background()
	if err := env.Client.XGroupCreateMkStream(ctx, env.Keys.ApplyPlan(), "apply_layer_shadow", "$").Err(); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, env.Client, env.Keys)
	w.start(func(c *applylayer.Config) {
		c.Freshness, c.RecordTTL = 500*time.Millisecond, time.Second
	})
	for range 3 {
		w.send(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false)))
	}
	waitFor(t, "three results", func() bool {
		n, _ := env.Client.XLen(ctx, env.Keys.ApplyResult()).Result()
		return n == 3
	})
	time.Sleep(2500 * time.Millisecond) // past the record TTL and several housekeeping rounds
	if n, _ := env.Client.XLen(ctx, env.Keys.ApplyPlan()).Result(); n != 3 {
		t.Fatalf("%d plans left, want the 3 the other group has not read", n)
	}
}
