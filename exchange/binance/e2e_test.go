package binance_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
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
	a := newApplyRig(t, nil)
	r, logs := a.rig, a.logs
	send := func(source, symbol, side, qty string, reduce bool) string {
		return a.send(source, side, "MARKET", qty, reduce, map[string]string{"symbol": symbol})
	}
	result := func(planID string) map[string]string { return a.result(planID, 10*time.Second) }
	ordersOf := a.ordersOf

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

// applyRig is an apply layer consuming on real Redis, with the adapter on
// a fake, its limiter shared in Redis as the daemon runs it.
type applyRig struct {
	*rig
	t     *testing.T
	env   *redistest.Env
	logs  *testkit.Buffer
	n     atomic.Int64
	store *policystore.Store
}

func newApplyRig(t *testing.T, mod func(cfg *binance.Config, f *binancefake.Fake)) *applyRig {
	return newApplyRigPolicy(t, mod, nil)
}

// newApplyRigPolicy is newApplyRig with the sample policy changed by pol.
func newApplyRigPolicy(t *testing.T, mod func(cfg *binance.Config, f *binancefake.Fake), pol func(p *policy.Policy)) *applyRig {
	t.Helper()
	env := redistest.New(t)
	ctx := context.Background()
	r := newRig(t, func(cfg *binance.Config, f *binancefake.Fake) {
		cfg.Timeout = 300 * time.Millisecond
		cfg.RecvWindow, cfg.SettleMargin = time.Second, 200*time.Millisecond
		cfg.Limiter = binance.NewRedisLimiter(env.Client, env.Keys.Prefix())
		if mod != nil {
			mod(cfg, f)
		}
	})
	key := policytest.Key(t)
	store, err := policystore.New(env.Client, policystore.Options{Keys: env.Keys, Keyring: policy.NewTrustedKeys(key.Public()), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	p := policytest.Sample(time.Now(), 1)
	p.MaxOrdersPerMinute = 0
	if pol != nil {
		pol(p)
	}
	if _, err := store.Publish(ctx, policytest.Sign(t, p, key), "test"); err != nil {
		t.Fatal(err)
	}
	ar := &applyRig{rig: r, t: t, env: env, logs: &testkit.Buffer{}, store: store}
	ar.startReplica("e2e", r.c)
	return ar
}

// startReplica runs one more apply layer (consumer name) on the rig's
// Redis and policy, trading through c, until the test ends.
func (a *applyRig) startReplica(name string, c *binance.Client) {
	a.t.Helper()
	svc, err := applylayer.New(a.env.Client, a.store, c, applylayer.Config{
		Keys: a.env.Keys, Consumer: name, Block: 50 * time.Millisecond, ClaimIdle: 300 * time.Millisecond,
		Keyring: plan.NewSecrets(sources), Gate: gate.Config{ExitOwner: gate.DefaultExitOwner},
		Now: time.Now, Log: slog.New(slog.NewTextHandler(a.logs, nil)),
	})
	if err != nil {
		a.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(runCtx, nil); close(done) }()
	a.t.Cleanup(func() { cancel(); <-done })
}

// send publishes a signed plan and returns its id; extra fields override.
func (a *applyRig) send(source, side, typ, qty string, reduce bool, extra map[string]string) string {
	a.t.Helper()
	id := fmt.Sprintf("e2ef-%d-%d", a.n.Add(1), time.Now().UnixNano())
	fields := map[string]string{
		"plan_id": id, "decision": "EXECUTE", "symbol": "BTCUSDT", "side": side, "type": typ,
		"qty": qty, "reduceOnly": strconv.FormatBool(reduce), "source": source,
		"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "action": "TEST",
	}
	for k, v := range extra {
		fields[k] = v
	}
	if err := a.env.Client.XAdd(context.Background(), xadd(a.env.Keys.ApplyPlan(), plan.SignFields(fields, sources[source]))).Err(); err != nil {
		a.t.Fatal(err)
	}
	return id
}

// results returns the results written so far, by plan id; more than one
// for a plan fails the test.
func (a *applyRig) results() map[string]map[string]string {
	a.t.Helper()
	out := map[string]map[string]string{}
	for _, e := range redistest.StreamEntries(a.t, a.env.Client, a.env.Keys.ApplyResult()) {
		if out[e["plan_id"]] != nil {
			a.t.Fatalf("plan %s: two results", e["plan_id"])
		}
		out[e["plan_id"]] = e
	}
	return out
}

// result waits for the plan's one result.
func (a *applyRig) result(id string, within time.Duration) map[string]string {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if r := a.results()[id]; r != nil {
			return r
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("plan %s: no result after %v\nlogs:\n%s", id, within, a.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noResult checks the plan has no result for d.
func (a *applyRig) noResult(id string, d time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if r := a.results()[id]; r != nil {
			a.t.Fatalf("plan %s has a result %v, want none yet", id, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *applyRig) ordersOf(id string) int {
	n := 0
	for _, o := range a.fake.Orders() {
		if o.ClientOrderID == market.ClientOrderID(id) {
			n++
		}
	}
	return n
}

func xadd(stream string, f map[string]string) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: stream, Values: f}
}
