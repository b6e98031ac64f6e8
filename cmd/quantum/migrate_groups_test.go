package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// startForeignExecutor creates the old executor's group on the plan stream
// the way intent_executor does (at $) and serves consumer executor-1 once,
// as a live executor is served on every plan: the consumer is then live.
func startForeignExecutor(t *testing.T, ae *applyEnv) {
	t.Helper()
	ctx := context.Background()
	rdb, stream := ae.rd.Client, ae.rd.Keys.ApplyPlan()
	if err := rdb.XGroupCreateMkStream(ctx, stream, "intent_executor", "$").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"plan_id", "legacy-warmup", "decision", "SKIP"}}).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "intent_executor", Consumer: "executor-1", Streams: []string{stream, ">"}, Count: 10, Block: time.Second}).Result()
	if err != nil || len(got) == 0 || len(got[0].Messages) == 0 {
		t.Fatalf("the foreign executor read nothing: %v %v", got, err)
	}
}

// TestEnforceRefusesBesideALiveForeignExecutor: a live intent_executor
// consumer (it would place every plan again, reading no signature) stops an
// enforcing apply layer at start, named with its consumer; a group whose
// consumers are idle beyond --foreign-live-within does not; and
// --allow-foreign-groups starts loudly.
func TestEnforceRefusesBesideALiveForeignExecutor(t *testing.T) {
	ae := newApplyEnv(t)
	startForeignExecutor(t, ae)
	r := ae.run(ae.daemonArgs()...)
	r.want(t, 1, "refusing to start", "intent_executor: executor-1 (idle", "--allow-foreign-groups")
	if ae.rd.Client.Exists(context.Background(), ae.rd.Keys.ApplyResult()).Val() != 0 {
		t.Fatal("a refused apply layer wrote results")
	}
	groups, err := ae.rd.Client.XInfoGroups(context.Background(), ae.rd.Keys.ApplyPlan()).Result()
	if err != nil || len(groups) != 1 {
		t.Fatalf("a refused apply layer created its group: %v %v", groups, err)
	}
	ae.run(ae.daemonArgs("--mode", "sideways")...).want(t, 2, "--mode")
	ae.run("status", "--pubkey", ae.pub).want(t, 1, "foreign group", "intent_executor: 1 consumer(s)", "LIVE: executor-1", "foreign consumer group intent_executor")
	ae.run("status", "--pubkey", ae.pub, "--json").want(t, 1, `"foreign_groups": [`, `"name": "intent_executor"`, `"live": true`)

	// The same group, its consumer idle longer than the window: starts.
	time.Sleep(20 * time.Millisecond)
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--foreign-live-within", "10ms")...)
	waitFor(t, logs, "apply layer consuming")
	if !strings.Contains(logs.String(), "has no live consumer") {
		t.Fatalf("the idle foreign group is not warned about:\n%s", logs)
	}

	// Live again, overridden: starts with an error line naming it.
	startForeignExecutorAgain(t, ae)
	logs = runDaemon(t, ae.harness, ae.daemonArgs("--allow-foreign-groups", "--consumer", "second")...)
	waitFor(t, logs, "apply layer consuming")
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"FOREIGN CONSUMER GROUPS ALLOWED`) || !strings.Contains(logs.String(), "executor-1") {
		t.Fatalf("the override is not logged loudly:\n%s", logs)
	}
}

func startForeignExecutorAgain(t *testing.T, ae *applyEnv) {
	t.Helper()
	ctx := context.Background()
	stream := ae.rd.Keys.ApplyPlan()
	ae.rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"plan_id", "legacy-warmup-2", "decision", "SKIP"}})
	if _, err := ae.rd.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "intent_executor", Consumer: "executor-1", Streams: []string{stream, ">"}, Count: 10, Block: time.Second}).Result(); err != nil {
		t.Fatal(err)
	}
}

// TestShadowPlacesNothingAndRecordsEveryDecision runs --mode shadow beside
// a live foreign intent_executor group over a venue holding a long: every
// plan (an entry, an owner's close, a rogue close, an unsigned plan, a
// producer SKIP) gets its would-be result on apply.shadow with the decision
// enforce mode would take, nothing reaches apply.result, the venue holds no
// new order and the same position, the foreign group still receives every
// plan, and no log line says DENY_NOT_EXIT_OWNER (nothing was denied).
func TestShadowPlacesNothingAndRecordsEveryDecision(t *testing.T) {
	ae := newApplyEnv(t)
	ctx := context.Background()
	startForeignExecutor(t, ae)
	venue, err := paper.New(ae.rd.Client, ae.rd.Keys, map[string]string{"SOLUSDT": "150"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := venue.PlaceOrder(ctx, exchange.Order{ClientOrderID: "seed-long", Symbol: "SOLUSDT", Side: market.Buy, Type: market.Market, Qty: "2"}); err != nil {
		t.Fatal(err)
	}
	ordersBefore := ae.rd.Client.ZCard(ctx, ae.rd.Keys.Key("paper:orders")).Val()

	logs := runDaemon(t, ae.harness, ae.daemonArgs("--mode", "shadow")...)
	waitFor(t, logs, "apply layer consuming")
	send := func(src string, args ...string) {
		t.Helper()
		ae.run(append([]string{"plan", "send", "--key-file", ae.keyFiles[src], "--symbol", "SOLUSDT"}, args...)...).want(t, 0)
	}
	send("intent_bridge", "--side", "BUY", "--qty", "1", "--plan-id", "sh-entry")
	send("exitbrain_v3_5", "--side", "SELL", "--qty", "2", "--reduce-only", "--plan-id", "sh-owner-close")
	send("rogue", "--side", "SELL", "--qty", "2", "--reduce-only", "--plan-id", "sh-rogue-close")
	send("intent_bridge", "--side", "BUY", "--qty", "1", "--decision", "SKIP", "--plan-id", "sh-skip")
	ae.rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: ae.rd.Keys.ApplyPlan(), Values: []string{
		"plan_id", "sh-unsigned", "decision", "EXECUTE", "symbol", "SOLUSDT", "side", "SELL", "type", "MARKET", "qty", "2",
		"reduceOnly", "true", "source", "intent_bridge", "timestamp", fmt.Sprint(time.Now().Unix()), "action", "FULL_CLOSE_PROPOSED"}})
	want := map[string]string{
		"sh-entry": "EXECUTED/", "sh-owner-close": "EXECUTED/", "sh-rogue-close": "DENIED/DENY_NOT_EXIT_OWNER",
		"sh-skip": "SKIPPED/", "sh-unsigned": "DENIED/AUTH_MISSING", "legacy-warmup": "DENIED/PLAN_INVALID",
	}
	var got map[string]string
	eventually(t, 15*time.Second, "every plan shadowed", func() (bool, string) {
		got = map[string]string{}
		for _, e := range redistest.StreamEntries(t, ae.rd.Client, ae.rd.Keys.ApplyShadow()) {
			got[e["plan_id"]] = e["decision"] + "/" + e["reason"]
		}
		return len(got) == len(want), fmt.Sprint(got)
	})
	for id, w := range want {
		if got[id] != w {
			t.Errorf("shadow of %s: %s, want %s", id, got[id], w)
		}
	}
	if n := ae.rd.Client.XLen(ctx, ae.rd.Keys.ApplyResult()).Val(); n != 0 {
		t.Errorf("shadow mode wrote %d entries to apply.result", n)
	}
	if n := ae.rd.Client.ZCard(ctx, ae.rd.Keys.Key("paper:orders")).Val(); n != ordersBefore {
		t.Errorf("the venue holds %d orders, %d before: shadow mode placed", n, ordersBefore)
	}
	if pos, err := venue.Position(ctx, "SOLUSDT"); err != nil || pos != 2 {
		t.Errorf("position %v (%v), want the seeded 2", pos, err)
	}
	if keys := append(ae.rd.Client.Keys(ctx, ae.rd.Keys.Key("apply:plan:*")).Val(), ae.rd.Client.Keys(ctx, ae.rd.Keys.Key("apply:record:*")).Val()...); len(keys) != 0 {
		t.Errorf("shadow mode wrote enforce-mode execution records: %v", keys)
	}
	groups, _ := ae.rd.Client.XInfoGroups(ctx, ae.rd.Keys.ApplyPlan()).Result()
	for _, g := range groups {
		if g.Name == "intent_executor" && g.Lag != int64(len(want)-1) {
			t.Errorf("the foreign group's lag is %d, want the %d plans", g.Lag, len(want)-1)
		}
	}
	if strings.Contains(logs.String(), "DENY_NOT_EXIT_OWNER") {
		t.Errorf("a shadow log line carries DENY_NOT_EXIT_OWNER (operators count real denials with grep -c):\n%s", logs)
	}
	if !strings.Contains(logs.String(), "shadow: would deny a close by a non-owner symbol=SOLUSDT source=rogue") {
		t.Errorf("the would-be ownership denial is not logged:\n%s", logs)
	}
}

// TestEnforceFlagsAForeignExecutorStartedLater: an executor that starts
// after the apply layer doubles orders just the same; the running layer
// logs an ERROR naming it at every check.
func TestEnforceFlagsAForeignExecutorStartedLater(t *testing.T) {
	ae := newApplyEnv(t)
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--foreign-check-interval", "50ms")...)
	waitFor(t, logs, "apply layer consuming")
	if strings.Contains(logs.String(), "FOREIGN CONSUMER GROUPS LIVE") {
		t.Fatalf("flagged before any foreign group:\n%s", logs)
	}
	startForeignExecutor(t, ae)
	waitFor(t, logs, "FOREIGN CONSUMER GROUPS LIVE")
	if !strings.Contains(logs.String(), "intent_executor: executor-1") {
		t.Fatalf("the error does not name the executor:\n%s", logs)
	}
}
