package applylayer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
)

// alertsOf returns the PLAN_STREAM_TAMPERED alerts on the stream, by kind.
func tamperAlerts(t *testing.T, env *redistest.Env) map[string][]map[string]string {
	t.Helper()
	out := map[string][]map[string]string{}
	for _, a := range redistest.StreamEntries(t, env.Client, env.Keys.Alerts()) {
		if a["alert_type"] == applylayer.TypePlanStreamTampered {
			out[a["kind"]] = append(out[a["kind"]], a)
		}
	}
	return out
}

func withAlerts(t *testing.T, w *world) func(c *applylayer.Config) {
	al, err := alert.New(w.rdb, alert.Options{Keys: w.ks, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *applylayer.Config) { c.Alerts = al }
}

// waitTamper waits up to a second for a PLAN_STREAM_TAMPERED alert of kind.
func waitTamper(t *testing.T, env *redistest.Env, kind string) map[string]string {
	t.Helper()
	start := time.Now()
	for time.Since(start) < time.Second {
		if a := tamperAlerts(t, env)[kind]; len(a) > 0 {
			return a[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no PLAN_STREAM_TAMPERED %s alert within a second; alerts: %v; plan stream: %v", kind, tamperAlerts(t, env), env.Client.XInfoStream(context.Background(), env.Keys.ApplyPlan()).Val())
	return nil
}

// TestTrimBeforeReadIsAlerted: a producer's XADD ... MAXLEN 0 deletes the
// queued plans (the owner's close among them) before the apply layer read
// them: alerted within a second, once, with the event's id; plans sent
// afterwards are served.
func TestTrimBeforeReadIsAlerted(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	ctx := context.Background()
	// The group exists and has read nothing when the trim comes.
	if err := env.Client.XGroupCreateMkStream(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup, "$").Err(); err != nil {
		t.Fatal(err)
	}
	w.xadd(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)))
	if err := env.Client.Do(ctx, "XADD", env.Keys.ApplyPlan(), "MAXLEN", "0", "*", "plan_id", "trim").Err(); err != nil {
		t.Fatal(err)
	}
	n, _ := env.Client.XLen(ctx, env.Keys.ApplyPlan()).Result()
	if n != 0 {
		t.Fatalf("the trim left %d entries", n)
	}
	w.start(withAlerts(t, w))
	a := waitTamper(t, env, "deleted_unread")
	if a["status"] != "firing" || a["severity"] != "critical" || a["event"] == "" {
		t.Fatalf("alert %v", a)
	}
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	time.Sleep(1200 * time.Millisecond) // more checks: the same event is not alerted again
	if got := tamperAlerts(t, env)["deleted_unread"]; len(got) != 1 {
		t.Fatalf("%d alerts for one event, want 1", len(got))
	}
}

// TestFarFutureIDIsAlerted: one XADD with the largest possible id makes
// every later XADD * fail (no exit can be sent); alerted within a second.
func TestFarFutureIDIsAlerted(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(withAlerts(t, w))
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	far := strconv.FormatUint(^uint64(0), 10) + "-" + strconv.FormatUint(^uint64(0), 10)
	if err := env.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: env.Keys.ApplyPlan(), ID: far, Values: []any{"plan_id", "far"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: env.Keys.ApplyPlan(), Values: []any{"plan_id", "next"}}).Err(); err == nil {
		t.Fatal("an XADD * after a far-future id succeeded: the attack did not happen")
	}
	a := waitTamper(t, env, "future_id")
	if a["event"] != "future_id:"+far {
		t.Fatalf("alert %v, want event future_id:%s", a, far)
	}
}

// TestDeletedWhilePendingIsAlerted: a plan delivered to a consumer that
// died, then deleted before its result: the claim finds it gone; alerted.
func TestDeletedWhilePendingIsAlerted(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	ctx := context.Background()
	if err := env.Client.XGroupCreateMkStream(ctx, env.Keys.ApplyPlan(), applylayer.DefaultGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	id := w.xadd(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)))
	w.xadd(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)))
	if err := env.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: applylayer.DefaultGroup, Consumer: "dead",
		Streams: []string{env.Keys.ApplyPlan(), ">"}, Count: 2, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.XDel(ctx, env.Keys.ApplyPlan(), id).Err(); err != nil {
		t.Fatal(err)
	}
	w.start(func(c *applylayer.Config) { withAlerts(t, w)(c); c.ClaimIdle = 300 * time.Millisecond })
	start := time.Now()
	for time.Since(start) < 3*time.Second && len(tamperAlerts(t, env)["deleted_pending"]) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if len(tamperAlerts(t, env)["deleted_pending"]) == 0 {
		t.Fatalf("no deleted_pending alert; alerts %v", tamperAlerts(t, env))
	}
}

// TestProducerTricksUnderShippedACL: as the quantum-producer user of the
// shipped deploy/redis/users.acl, each trim or id trick a producer can do
// with XADD is alerted within a second by an apply layer running as
// quantum-apply-layer (the ACL cannot forbid XADD's options).
func TestProducerTricksUnderShippedACL(t *testing.T) {
	for _, trick := range []struct {
		name, kind string
		args       []any
	}{
		{"MAXLEN 0", "deleted_unread", []any{"MAXLEN", "0", "*"}},
		{"MINID far ahead", "deleted_unread", []any{"MINID", "99999999999999", "*"}},
		{"the largest id", "future_id", []any{"18446744073709551615-18446744073709551615"}},
	} {
		t.Run(trick.name, func(t *testing.T) {
			client, _ := redistest.ShippedACL(t)
			apply, producer := client("quantum-apply-layer"), client("quantum-producer")
			ks := keys.MustNew("quantum")
			w := newWorld(t, client("admin"), ks) // the policy, published by the admin
			w.rdb = apply
			ctx := context.Background()
			if err := apply.XGroupCreateMkStream(ctx, ks.ApplyPlan(), applylayer.DefaultGroup, "$").Err(); err != nil {
				t.Fatal(err)
			}
			// The owner's close, queued; then the trick.
			f := sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))
			args := []any{"XADD", ks.ApplyPlan()}
			args = append(args, trick.args...)
			args = append(args, "plan_id", "trick")
			if err := producer.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyPlan(), Values: f}).Err(); err != nil {
				t.Fatal(err)
			}
			if err := producer.Do(ctx, args...).Err(); err != nil {
				t.Fatalf("the producer's trick was refused (%v): then it is no threat, but the test assumed it passes the ACL", err)
			}
			al, err := alert.New(apply, alert.Options{Keys: ks, Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			w.start(func(c *applylayer.Config) { c.Alerts = al })
			env := &redistest.Env{Client: client("admin"), Keys: ks}
			defer func() {
				if t.Failed() {
					t.Log(w.logs.String())
				}
			}()
			waitTamper(t, env, trick.kind)
		})
	}
}

// TestResultsCarryTheApplyLayersMAC: with a result key every result (an
// execution, an early denial of an unparsable plan) carries a result_mac
// that verifies; changing a field breaks it.
func TestResultsCarryTheApplyLayersMAC(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	key := []byte("result-key-0123456789abcdef0123456789abcdef")
	w.start(func(c *applylayer.Config) { c.ResultKey = key })
	ok := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))
	w.send(ok)
	bad := map[string]string{"plan_id": "garbage-1", "source": "x"}
	w.xadd(bad)
	w.result("garbage-1", 1)
	msgs, err := env.Client.XRange(context.Background(), env.Keys.ApplyResult(), "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("results %v, %v", msgs, err)
	}
	for _, m := range msgs {
		if !plan.VerifyResult(m.Values, key) {
			t.Fatalf("result %v does not verify", m.Values)
		}
		m.Values["decision"] = "EXECUTED"
		m.Values["plan_id"] = "other"
		if plan.VerifyResult(m.Values, key) {
			t.Fatalf("a changed result still verifies: %v", m.Values)
		}
	}
}

// TestClockSkewIsAlerted: a process whose clock runs an hour behind Redis
// raises CLOCK_SKEW (its fresh plans would be refused as expired).
func TestClockSkewIsAlerted(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(func(c *applylayer.Config) {
		withAlerts(t, w)(c)
		c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	})
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		for _, a := range redistest.StreamEntries(t, env.Client, env.Keys.Alerts()) {
			if a["alert_type"] == "CLOCK_SKEW" && a["status"] == "firing" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no CLOCK_SKEW alert within 3s:\n%s", w.logs.String())
}
