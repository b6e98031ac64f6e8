package producer_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// writeResult appends a result as the apply layer would.
func writeResult(t *testing.T, env *redistest.Env, r plan.Result) string {
	t.Helper()
	f := r.Fields()
	vals := make([]any, len(f))
	for i, v := range f {
		vals[i] = v
	}
	id, err := env.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: env.Keys.ApplyResult(), Values: vals}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSignSendAwait: a signed plan lands on the plan stream verifiable by
// its source's secret; Await finds its result after the cursor and ignores
// the results that were there before (an old result of the same plan_id).
func TestSignSendAwait(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	secret := []byte("0123456789abcdef0123456789abcdef")
	s := producer.Signer{Source: "intent_bridge", Secret: secret}
	fields := s.Sign(map[string]string{plan.FieldPlanID: "p1", plan.FieldSource: "someone_else", plan.FieldSymbol: "BTCUSDT"})
	if fields[plan.FieldSource] != "intent_bridge" || !plan.Verify(fields, fields[plan.FieldSig], secret) {
		t.Fatalf("signed fields %v do not verify as intent_bridge", fields)
	}
	writeResult(t, env, plan.Result{PlanID: "p1", Decision: plan.Denied, Reason: "PLAN_REPLAYED"}) // before the cursor
	cursor, err := producer.Cursor(ctx, env.Client, env.Keys)
	if err != nil {
		t.Fatal(err)
	}
	id, err := producer.Send(ctx, env.Client, env.Keys, fields)
	if err != nil {
		t.Fatal(err)
	}
	got := redistest.StreamEntries(t, env.Client, env.Keys.ApplyPlan())
	if len(got) != 1 || got[0][plan.FieldSig] != fields[plan.FieldSig] || got[0][plan.FieldPlanID] != "p1" {
		t.Fatalf("plan stream holds %v (entry %s)", got, id)
	}
	writer := env.Server.Client() // the writer's own connection, closed only when it is done
	defer writer.Close()
	wrote := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		var err error
		for _, r := range []plan.Result{{PlanID: "other", Decision: plan.Executed, Executed: true}, {PlanID: "p1", Decision: plan.Executed, Executed: true, FilledQty: "0.01"}} {
			if err == nil {
				err = writer.XAdd(ctx, &redis.XAddArgs{Stream: env.Keys.ApplyResult(), Values: r.Fields()}).Err()
			}
		}
		wrote <- err
	}()
	res, err := producer.Await(ctx, env.Client, env.Keys, cursor, 5*time.Second, "p1")
	if werr := <-wrote; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r := res["p1"]; r.Decision != plan.Executed || r.FilledQty != "0.01" || r.At.IsZero() {
		t.Fatalf("Await gave %+v, want the EXECUTED result written after the cursor", r)
	}
}

// TestAwaitFarFutureEntryID: a hostile producer stamps the plan stream with
// a far-future id; awaiting results must not depend on plan entry ids.
func TestAwaitFarFutureEntryID(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	far := strconv.FormatInt(time.Now().Add(100*365*24*time.Hour).UnixMilli(), 10) + "-0"
	if err := env.Client.XAdd(ctx, &redis.XAddArgs{Stream: env.Keys.ApplyPlan(), ID: far, Values: []any{"plan_id", "evil"}}).Err(); err != nil {
		t.Fatal(err)
	}
	cursor, err := producer.Cursor(ctx, env.Client, env.Keys)
	if err != nil {
		t.Fatal(err)
	}
	writeResult(t, env, plan.Result{PlanID: "p2", Decision: plan.Skipped, Canary: true})
	res, err := producer.Await(ctx, env.Client, env.Keys, cursor, 2*time.Second, "p2")
	if err != nil || res["p2"].Decision != plan.Skipped || !res["p2"].Canary {
		t.Fatalf("Await = %+v, %v", res, err)
	}
}

// TestAwaitTimeout: a missing result is ErrNoResult, with what was found.
func TestAwaitTimeout(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	cursor, err := producer.Cursor(ctx, env.Client, env.Keys)
	if err != nil || cursor != "0-0" {
		t.Fatalf("Cursor of an empty stream = %q, %v", cursor, err)
	}
	writeResult(t, env, plan.Result{PlanID: "a", Decision: plan.Denied})
	res, err := producer.Await(ctx, env.Client, env.Keys, cursor, 300*time.Millisecond, "a", "b")
	if !errors.Is(err, producer.ErrNoResult) || len(res) != 1 || res["a"].Decision != plan.Denied {
		t.Fatalf("Await = %v, %v; want a found, b missing with ErrNoResult", res, err)
	}
}

// TestSendConfirmed: on a real primary with a replica, the plan is
// confirmed by it; with the replica paused, it is sent but not confirmed.
func TestSendConfirmed(t *testing.T) {
	primary := redistest.Start(t, redistest.Options{TCP: true})
	_, port, _ := strings.Cut(primary.Addr(), ":")
	replica := redistest.Start(t, redistest.Options{TCP: true, Args: []string{"--replicaof", "127.0.0.1", port}})
	t.Cleanup(replica.Resume)
	rdb := primary.Client()
	defer rdb.Close()
	ks := keys.MustNew("conf")
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, n, err := producer.SendConfirmed(ctx, rdb, ks, map[string]string{"plan_id": "warm"}, 1, 200*time.Millisecond)
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica never confirmed: %d, %v", n, err)
		}
	}
	replica.Pause()
	id, n, err := producer.SendConfirmed(ctx, rdb, ks, map[string]string{"plan_id": "p1"}, 1, 200*time.Millisecond)
	if err != nil || id == "" || n != 0 {
		t.Fatalf("with the replica paused: id %q, %d confirmations, %v; want sent, 0 confirmations", id, n, err)
	}
}
