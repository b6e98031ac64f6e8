package binance_test

// End-to-end tests of issue 12 through the apply layer on real Redis with
// the adapter on the fake: final states decide results, an unknown
// outcome reconciled through 429s never ends FAILED nor as a second
// order, and a burst of 1,000 plans stays under the venue's limits with
// every exit placed.

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// applyRig is an apply layer consuming on real Redis, with the adapter on
// a fake, its limiter shared in Redis as the daemon runs it.
type applyRig struct {
	*rig
	t    *testing.T
	env  *redistest.Env
	logs *testkit.Buffer
	n    atomic.Int64
}

func newApplyRig(t *testing.T, mod func(cfg *binance.Config, f *binancefake.Fake)) *applyRig {
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
	if _, err := store.Publish(ctx, policytest.Sign(t, p, key), "test"); err != nil {
		t.Fatal(err)
	}
	ar := &applyRig{rig: r, t: t, env: env, logs: &testkit.Buffer{}}
	svc, err := applylayer.New(env.Client, store, r.c, applylayer.Config{
		Keys: env.Keys, Consumer: "e2e", Block: 50 * time.Millisecond, ClaimIdle: 300 * time.Millisecond,
		Keyring: plan.NewSecrets(sources), Gate: gate.Config{ExitOwner: gate.DefaultExitOwner},
		Now: time.Now, Log: slog.New(slog.NewTextHandler(ar.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(runCtx, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ar
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

// TestApplyLayerFinalStates: an exit MARKET order the book cannot fill
// (EXPIRED, nothing filled) is FAILED EXCHANGE_ORDER_EXPIRED, never
// EXECUTED; a partial fill is EXECUTED with the filled quantity and says
// so; a LIMIT resting NEW gets no result until it is final: filled when
// the mark crosses it, FAILED EXCHANGE_ORDER_CANCELED when cancelled with
// nothing filled.
func TestApplyLayerFinalStates(t *testing.T) {
	a := newApplyRig(t, func(_ *binance.Config, f *binancefake.Fake) { f.SetPosition("BTCUSDT", "0.05") })
	const owner = "exitbrain_v3_5"

	a.fake.SetLiquidity("BTCUSDT", "0")
	id := a.send(owner, "SELL", "MARKET", "0.02", true, nil)
	res := a.result(id, 10*time.Second)
	if res["decision"] != "FAILED" || res["reason"] != "EXCHANGE_ORDER_EXPIRED" || res["executed"] != "false" ||
		res["filled_qty"] != "0" || res["order_status"] != "EXPIRED" || res["exchange_order_id"] == "" {
		t.Fatalf("expired exit: %v\nlogs:\n%s", res, a.logs.String())
	}

	a.fake.SetLiquidity("BTCUSDT", "0.015")
	id = a.send(owner, "SELL", "MARKET", "0.02", true, nil)
	res = a.result(id, 10*time.Second)
	if res["decision"] != "EXECUTED" || res["filled_qty"] != "0.015" || res["order_status"] != "EXPIRED" ||
		!strings.Contains(res["detail"], "partially filled 0.015 of 0.02") {
		t.Fatalf("partly filled exit: %v", res)
	}
	a.fake.SetLiquidity("BTCUSDT", "")
	if got := a.fake.Position("BTCUSDT"); got != "0.035" {
		t.Fatalf("position %s, want 0.035", got)
	}

	// A LIMIT entry below the mark rests NEW: no result while it rests.
	rest := a.send("intent_bridge", "BUY", "LIMIT", "0.01", false, map[string]string{"price": "64000"})
	a.noResult(rest, 1200*time.Millisecond)
	if !strings.Contains(a.logs.String(), "order resting at the venue") {
		t.Fatalf("no 'order resting' log:\n%s", a.logs.String())
	}
	a.fake.SetMark("BTCUSDT", "63900")
	res = a.result(rest, 10*time.Second)
	if res["decision"] != "EXECUTED" || res["filled_qty"] != "0.01" || res["order_status"] != "FILLED" {
		t.Fatalf("rested then filled: %v", res)
	}
	cancelled := a.send("intent_bridge", "BUY", "LIMIT", "0.01", false, map[string]string{"price": "60000"})
	a.noResult(cancelled, 700*time.Millisecond)
	if !a.fake.Cancel(market.ClientOrderID(cancelled)) {
		t.Fatal("the resting order was not at the venue")
	}
	res = a.result(cancelled, 10*time.Second)
	if res["decision"] != "FAILED" || res["reason"] != "EXCHANGE_ORDER_CANCELED" || res["filled_qty"] != "0" {
		t.Fatalf("cancelled resting order: %v", res)
	}
	for _, p := range []string{id, rest, cancelled} {
		if n := a.ordersOf(p); n != 1 {
			t.Fatalf("plan %s: %d orders", p, n)
		}
	}
}

// TestApplyLayerUnknownThrough429: the order's answer never comes (the
// venue may or may not hold it), and the look-ups that reconcile it meet
// 429s: the plan is never finished FAILED, and there is never a second
// order. Two cases: the first attempt never reached the matching engine
// (it is sent again once it can no longer execute, and fills once), and it
// surfaces late (found, EXECUTED, not re-sent).
func TestApplyLayerUnknownThrough429(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			a := newApplyRig(t, nil)
			first := binancefake.Fault{Delay: time.Minute}
			if late {
				first.ExecuteAfter = 500 * time.Millisecond
			}
			a.fake.Inject("POST /fapi/v1/order", first)
			rl := binancefake.Fault{Status: 429, Code: -1003, Msg: "Too many requests.", RetryAfter: "1"}
			a.fake.Inject("GET /fapi/v1/order", binancefake.Fault{Status: 400, Code: -2013, Msg: "Order does not exist."}, rl, rl, rl)
			id := a.send("intent_bridge", "BUY", "MARKET", "0.01", false, nil)
			res := a.result(id, 20*time.Second)
			if res["decision"] != "EXECUTED" || res["filled_qty"] != "0.01" {
				t.Fatalf("result %v, want EXECUTED once reconciled\nlogs:\n%s", res, a.logs.String())
			}
			if n := a.ordersOf(id); n != 1 {
				t.Fatalf("%d orders at the venue, want 1", n)
			}
			if st := a.fake.RateStats(); st.Banned != 0 {
				t.Fatalf("banned %d times: requests were sent during a Retry-After", st.Banned)
			}
		})
	}
}

// TestApplyLayerBurst: 1,000 plans at once, 900 entries and 100 exits of
// the owner interleaved, against a venue allowing 200 request weight and
// 50 orders a second: the venue never answers 429 (the limiter keeps the
// adapter under both), every exit is EXECUTED, and every entry is
// EXECUTED or refused before the venue (FAILED EXCHANGE_UNAVAILABLE).
func TestApplyLayerBurst(t *testing.T) {
	a := newApplyRig(t, func(_ *binance.Config, f *binancefake.Fake) {
		f.SetPosition("BTCUSDT", "5")
		f.SetRateLimits(binancefake.RateLimit{Type: "REQUEST_WEIGHT", Interval: "SECOND", IntervalNum: 1, Limit: 200},
			binancefake.RateLimit{Type: "ORDERS", Interval: "SECOND", IntervalNum: 1, Limit: 50})
	})
	exits := map[string]bool{}
	var ids []string
	for i := range 1000 {
		if i%10 == 9 {
			id := a.send("exitbrain_v3_5", "SELL", "MARKET", "0.002", true, nil)
			exits[id] = true
			ids = append(ids, id)
			continue
		}
		ids = append(ids, a.send("intent_bridge", "BUY", "MARKET", "0.002", false, nil))
	}
	deadline := time.Now().Add(90 * time.Second)
	var res map[string]map[string]string
	for {
		res = a.results()
		if len(res) == len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(res) != len(ids) {
		t.Fatalf("%d results of %d after 90s\nlogs (tail):\n%s", len(res), len(ids), tail(a.logs.String(), 3000))
	}
	entriesOK, entriesRefused := 0, 0
	for _, id := range ids {
		r := res[id]
		switch {
		case exits[id]:
			if r["decision"] != "EXECUTED" || r["filled_qty"] != "0.002" {
				t.Fatalf("exit %s: %v", id, r)
			}
		case r["decision"] == "EXECUTED":
			entriesOK++
		case r["decision"] == "FAILED" && r["reason"] == "EXCHANGE_UNAVAILABLE" && strings.Contains(r["detail"], "client-side rate limit"):
			entriesRefused++
		default:
			t.Fatalf("entry %s: %v", id, r)
		}
	}
	st := a.fake.RateStats()
	if st.Limited != 0 || st.Banned != 0 || st.MaxWeight > 200 {
		t.Fatalf("the venue saw %+v: beyond its limits", st)
	}
	if entriesOK == 0 || entriesRefused == 0 {
		t.Fatalf("entries executed %d, refused %d: want both (the limiter's share, not all or nothing)", entriesOK, entriesRefused)
	}
	t.Logf("1,000 plans: 100 exits executed, %d entries executed, %d refused by the limiter; venue %+v", entriesOK, entriesRefused, st)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
