package binance_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var sources = map[string][]byte{
	"intent_bridge":  []byte("intent-bridge-secret-0123456789abcdef012345"),
	"exitbrain_v3_5": []byte("exitbrain-secret-0123456789abcdef0123456789"),
}

// TestApplyLayerEndToEnd runs the apply layer on real Redis with the
// adapter on the fake: every plan gets one result and its order exists at
// most once at the venue, also when the venue executes an order and then
// answers -1007, or executes it and never answers.
func TestApplyLayerEndToEnd(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) {
		cfg.Timeout = 300 * time.Millisecond
		cfg.RecvWindow, cfg.SettleMargin = time.Second, 200*time.Millisecond // an unknown attempt settles in 1.2s
	})
	key := policytest.Key(t)
	store, err := policystore.New(env.Client, policystore.Options{Keys: env.Keys, Keyring: policy.NewTrustedKeys(key.Public()), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	p := policytest.Sample(time.Now(), 1)
	p.MaxOrdersPerMinute = 0
	if _, err := store.Publish(ctx, policytest.Sign(t, p, key), "test"); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	svc, err := applylayer.New(env.Client, store, r.c, applylayer.Config{
		Keys: env.Keys, Consumer: "e2e", Block: 50 * time.Millisecond, ClaimIdle: 300 * time.Millisecond,
		Keyring: plan.NewSecrets(sources), Gate: gate.Config{ExitOwner: gate.DefaultExitOwner},
		Now: time.Now, Log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(runCtx, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	n := 0
	send := func(source, symbol, side, qty string, reduce bool) (planID string) {
		n++
		planID = fmt.Sprintf("e2e-%d-%d", n, time.Now().UnixNano())
		f := plan.SignFields(map[string]string{
			"plan_id": planID, "decision": "EXECUTE", "symbol": symbol, "side": side, "type": "MARKET",
			"qty": qty, "reduceOnly": strconv.FormatBool(reduce), "source": source,
			"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "action": "TEST",
		}, sources[source])
		if err := env.Client.XAdd(ctx, xadd(env.Keys.ApplyPlan(), f)).Err(); err != nil {
			t.Fatal(err)
		}
		return planID
	}
	result := func(planID string) map[string]string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var got []map[string]string
			for _, e := range redistest.StreamEntries(t, env.Client, env.Keys.ApplyResult()) {
				if e["plan_id"] == planID {
					got = append(got, e)
				}
			}
			if len(got) > 1 {
				t.Fatalf("plan %s: %d results, want 1", planID, len(got))
			}
			if len(got) == 1 {
				return got[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("plan %s: no result after 10s\nlogs:\n%s", planID, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ordersOf := func(planID string) int {
		coid := market.ClientOrderID(planID)
		c := 0
		for _, o := range r.fake.Orders() {
			if o.ClientOrderID == coid {
				c++
			}
		}
		return c
	}

	cases := []struct {
		name     string
		faults   []binancefake.Fault
		source   string
		side     string
		qty      string
		reduce   bool
		decision string
		reason   string
		orders   int
		detail   string
	}{
		{name: "plain entry", source: "intent_bridge", side: "BUY", qty: "0.01", decision: "EXECUTED", orders: 1},
		{name: "accepted, then -1007", faults: []binancefake.Fault{{Status: 408, Code: binance.CodeTimeout, Msg: "Timeout waiting for response from backend server.", Execute: true}},
			source: "intent_bridge", side: "BUY", qty: "0.01", decision: "EXECUTED", orders: 1},
		{name: "accepted, then no answer", faults: []binancefake.Fault{{Delay: time.Minute, Execute: true}},
			source: "intent_bridge", side: "BUY", qty: "0.01", decision: "EXECUTED", orders: 1},
		{name: "-1007 not executed: reconciled, then placed once", faults: []binancefake.Fault{{Status: 408, Code: binance.CodeTimeout}},
			source: "intent_bridge", side: "BUY", qty: "0.01", decision: "EXECUTED", orders: 1},
		{name: "accepted, then 502", faults: []binancefake.Fault{{Status: 502, Execute: true}},
			source: "intent_bridge", side: "BUY", qty: "0.01", decision: "EXECUTED", orders: 1},
		{name: "below min notional: not sent", source: "intent_bridge", side: "BUY", qty: "0.001",
			decision: "FAILED", reason: "EXCHANGE_REJECTED", orders: 0, detail: "venue code -4164"},
		{name: "rate limited", faults: []binancefake.Fault{{Status: 429, Code: -1003, RetryAfter: "0"}},
			source: "intent_bridge", side: "BUY", qty: "0.01", decision: "FAILED", reason: "EXCHANGE_UNAVAILABLE", orders: 0},
		// The position closed at the venue between the gate's read and the order.
		{name: "owner's close refused: -2022", faults: []binancefake.Fault{{Status: 400, Code: -2022, Msg: "ReduceOnly Order is rejected."}},
			source: "exitbrain_v3_5", side: "SELL", qty: "0.01", reduce: true,
			decision: "FAILED", reason: "EXCHANGE_REJECTED", orders: 0, detail: "venue code -2022"},
		{name: "owner's close", source: "exitbrain_v3_5", side: "SELL", qty: "0.05", reduce: true, decision: "EXECUTED", orders: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.fake.Inject("/fapi/v1/order", tc.faults...)
			id := send(tc.source, "BTCUSDT", tc.side, tc.qty, tc.reduce)
			res := result(id)
			if res["decision"] != tc.decision || res["reason"] != tc.reason {
				t.Fatalf("result %s %s, want %s %s\n%v\nlogs:\n%s", res["decision"], res["reason"], tc.decision, tc.reason, res, logs.String())
			}
			if !strings.Contains(res["detail"], tc.detail) {
				t.Fatalf("detail %q, want %q", res["detail"], tc.detail)
			}
			if got := ordersOf(id); got != tc.orders {
				t.Fatalf("%d orders at the venue for the plan, want %d", got, tc.orders)
			}
			if tc.decision == "EXECUTED" && (res["client_order_id"] != market.ClientOrderID(id) || res["exchange_order_id"] == "" || res["filled_qty"] != tc.qty) {
				t.Fatalf("executed result %v", res)
			}
		})
	}
	// Five entries of 0.01 and one close of 0.05: flat, each entry once.
	if got := r.fake.Position("BTCUSDT"); got != "0" {
		t.Fatalf("position %s, want 0", got)
	}
	if got := r.fake.Leverage("BTCUSDT"); got != 15 {
		t.Fatalf("leverage %d, want the policy's 15", got)
	}
	for _, s := range []string{apiSecret, apiKey} {
		if strings.Contains(logs.String()+r.logs.String(), s) {
			t.Fatalf("a credential is in the logs")
		}
	}
}

func xadd(stream string, f map[string]string) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: stream, Values: f}
}
