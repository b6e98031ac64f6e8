package applylayer_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var secrets = map[string][]byte{
	"exitbrain_v3_5": []byte("exitbrain-secret-0123456789abcdef0123456789"),
	"intent_bridge":  []byte("intent-bridge-secret-0123456789abcdef012345"),
	"rogue":          []byte("rogue-secret-0123456789abcdef0123456789abcd"),
	"emergency_stop": []byte("emergency-secret-0123456789abcdef012345678"),
	"quantum_proof":  []byte("proof-secret-0123456789abcdef0123456789abcd"),
}

var prices = map[string]string{"BTCUSDT": "65000", "ETHUSDT": "3000", "SOLUSDT": "150", "DOGEUSDT": "0.1"}

// world is one apply layer on real Redis with the paper venue and a signed
// policy.
type world struct {
	t       *testing.T
	rdb     *redis.Client
	ks      keys.Space
	key     *policy.PrivateKey
	store   *policystore.Store
	venue   *paper.Venue
	logs    *testkit.Buffer
	cfg     applylayer.Config
	counter atomic.Int64 // producers may run in goroutines
	results resultIndex
	seq     uint64
}

func newWorld(t *testing.T, rdb *redis.Client, ks keys.Space) *world {
	t.Helper()
	w := &world{t: t, rdb: rdb, ks: ks, key: policytest.Key(t), logs: &testkit.Buffer{}}
	var err error
	w.store, err = policystore.New(rdb, policystore.Options{Keys: ks, Keyring: policy.NewTrustedKeys(w.key.Public()), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.venue, err = paper.New(rdb, ks, prices)
	if err != nil {
		t.Fatal(err)
	}
	w.publish(func(p *policy.Policy) {})
	w.cfg = applylayer.Config{
		Keys: ks, Consumer: "c1", Block: 50 * time.Millisecond, ClaimIdle: 300 * time.Millisecond,
		Keyring: plan.NewSecrets(secrets),
		Gate:    gate.Config{ExitOwner: gate.DefaultExitOwner, BreakGlass: map[string]bool{"emergency_stop": true}},
		Now:     time.Now, Log: slog.New(slog.NewTextHandler(w.logs, nil)),
	}
	return w
}

// publish signs and publishes the sample policy, changed by mutate, with
// the next seq.
func (w *world) publish(mutate func(p *policy.Policy)) {
	w.t.Helper()
	w.seq++ // not the live seq + 1: a deleted policy must not reset it (rollback)
	p := policytest.Sample(time.Now(), w.seq)
	p.MaxOrdersPerMinute = 0
	p.MaxNotionalUSDTBySymbol = nil
	mutate(p)
	if _, err := w.store.Publish(context.Background(), policytest.Sign(w.t, p, w.key), "test"); err != nil {
		w.t.Fatal(err)
	}
}

// start runs a service on the paper venue until the test ends.
func (w *world) start(mod func(c *applylayer.Config)) {
	w.t.Helper()
	w.startOn(w.venue, mod)
}

// startOn runs a service on venue until the test ends.
func (w *world) startOn(venue exchange.Venue, mod func(c *applylayer.Config)) {
	w.t.Helper()
	cfg := w.cfg
	if mod != nil {
		mod(&cfg)
	}
	svc, err := applylayer.New(w.rdb, w.store, venue, cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx, nil); close(done) }()
	w.t.Cleanup(func() { cancel(); <-done })
}

// fields returns an EXECUTE plan from source, unsigned.
func (w *world) fields(source, symbol, side, qty string, reduceOnly bool) map[string]string {
	n := w.counter.Add(1)
	return map[string]string{
		"plan_id": fmt.Sprintf("%s-%d-%d", source, n, time.Now().UnixNano()), "decision": "EXECUTE",
		"symbol": symbol, "side": side, "type": "MARKET", "qty": qty, "reduceOnly": strconv.FormatBool(reduceOnly),
		"source": source, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "action": "TEST",
	}
}

func sign(f map[string]string) map[string]string {
	return plan.SignFields(f, secrets[f["source"]])
}

// send XADDs raw fields and returns the new result for its plan_id (a
// replay has two), waiting up to 10s.
func (w *world) send(f map[string]string) map[string]string {
	w.t.Helper()
	prev, err := w.results.read(w.rdb, w.ks, f["plan_id"])
	if err != nil {
		w.t.Fatal(err)
	}
	before := len(prev)
	w.xadd(f)
	return w.result(f["plan_id"], before+1)[before]
}

func xaddArgs(w *world, f map[string]string) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: w.ks.ApplyPlan(), Values: f}
}

func (w *world) xadd(f map[string]string) string {
	w.t.Helper()
	id, err := w.rdb.XAdd(context.Background(), xaddArgs(w, f)).Result()
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// result waits until planID has n results and returns them. The result
// stream is read incrementally (each poll reads only new entries), so tests
// with thousands of plans do not re-read it whole.
func (w *world) result(planID string, n int) []map[string]string {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := w.results.read(w.rdb, w.ks, planID)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("plan %s: %d results after 10s, want %d\nlogs:\n%s", planID, len(got), n, w.logs.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// resultIndex is the results read so far, by plan_id.
type resultIndex struct {
	mu     sync.Mutex
	last   string
	byPlan map[string][]map[string]string
}

// read reads the entries after the last one read and returns planID's.
func (x *resultIndex) read(rdb *redis.Client, ks keys.Space, planID string) ([]map[string]string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byPlan == nil {
		x.byPlan, x.last = map[string][]map[string]string{}, "-"
	}
	msgs, err := rdb.XRange(context.Background(), ks.ApplyResult(), x.last, "+").Result()
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			f[k] = fmt.Sprint(v)
		}
		x.byPlan[f["plan_id"]] = append(x.byPlan[f["plan_id"]], f)
		x.last = "(" + m.ID
	}
	return append([]map[string]string(nil), x.byPlan[planID]...), nil
}

func wantResult(t *testing.T, r map[string]string, decision string, code reason.Code) {
	t.Helper()
	if r["decision"] != decision || r["reason"] != string(code) || r["error"] != string(code) {
		t.Fatalf("result decision=%s reason=%s, want %s %s\n%v", r["decision"], r["reason"], decision, code, r)
	}
	if (decision == "EXECUTED") != (r["executed"] == "true") {
		t.Fatalf("executed=%s with decision %s", r["executed"], decision)
	}
}

func (w *world) position(symbol string) float64 {
	w.t.Helper()
	p, err := w.venue.Position(context.Background(), symbol)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) orderCount() int {
	w.t.Helper()
	o, err := w.venue.Orders(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return len(o)
}

// TestSpoofing: every way of passing for another source is denied with its
// code, and nothing reaches the venue.
func TestSpoofing(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	// An open long position for the exits to target.
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	orders := w.orderCount()

	replayed := sign(w.fields("intent_bridge", "ETHUSDT", "BUY", "0.1", false))
	wantResult(t, w.send(replayed), "EXECUTED", "")
	orders++
	cases := []struct {
		name string
		f    map[string]string
		want reason.Code
	}{
		{"unsigned", w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true), reason.AuthMissing},
		{"wrong key", plan.SignFields(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false), []byte("not-the-key-0123456789abcdef0123456789")), reason.AuthInvalid},
		{"another source's key", plan.SignFields(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false), secrets["rogue"]), reason.AuthInvalid},
		{"owner's name, non-owner's key", plan.SignFields(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true), secrets["rogue"]), reason.AuthInvalid},
		{"unknown source", plan.SignFields(w.fields("ghost", "BTCUSDT", "SELL", "0.01", true), secrets["rogue"]), reason.AuthUnknownSource},
		{"replayed plan", replayed, reason.PlanReplayed},
		{"expired timestamp", func() map[string]string {
			f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
			f["timestamp"] = strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
			return sign(f)
		}(), reason.PlanExpired},
		{"timestamp from the future", func() map[string]string {
			f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
			f["timestamp"] = strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)
			return sign(f)
		}(), reason.PlanExpired},
		{"raw XADD source exitbrain_v3_5 reduceOnly true", map[string]string{
			"plan_id": "raw-1", "decision": "EXECUTE", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
			"qty": "0.01", "reduceOnly": "true", "source": "exitbrain_v3_5", "timestamp": strconv.FormatInt(time.Now().Unix(), 10),
		}, reason.AuthMissing},
		{"non-owner reduceOnly, validly signed", sign(w.fields("rogue", "BTCUSDT", "SELL", "0.01", true)), reason.DenyNotExitOwner},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantResult(t, w.send(tc.f), "DENIED", tc.want)
		})
	}
	if got := w.orderCount(); got != orders {
		t.Fatalf("the venue holds %d orders, want %d: a denied plan reached it", got, orders)
	}
	if w.position("BTCUSDT") != 0.01 {
		t.Fatalf("BTCUSDT position %v, want 0.01", w.position("BTCUSDT"))
	}
	want := "DENY_NOT_EXIT_OWNER symbol=BTCUSDT source=rogue plan_id="
	if !strings.Contains(w.logs.String(), want) || !strings.Contains(w.logs.String(), "expected=exitbrain_v3_5") {
		t.Fatalf("no %q log line:\n%s", want, w.logs.String())
	}
}

// TestExitOwnership: a non-owner's opposite-side order without reduceOnly
// is an exit and is denied; the owner's close executes.
func TestExitOwnership(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.02", false))), "EXECUTED", "")
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "SELL", "0.02", false))), "DENIED", reason.DenyNotExitOwner)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "SELL", "0.05", false))), "DENIED", reason.DenyNotExitOwner)
	wantResult(t, w.send(sign(w.fields("rogue", "BTCUSDT", "SELL", "0.01", true))), "DENIED", reason.DenyNotExitOwner)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "") // adding is no exit
	wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "BUY", "0.01", true))), "DENIED", reason.ReduceOnlyWouldIncrease)
	r := w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.03", true)))
	wantResult(t, r, "EXECUTED", "")
	if r["filled_qty"] != "0.03" || r["avg_price"] != "65000" || r["client_order_id"] == "" || r["exchange_order_id"] == "" {
		t.Fatalf("owner close result lacks its fill: %v", r)
	}
	if p := w.position("BTCUSDT"); p != 0 {
		t.Fatalf("position %v after the owner's close, want 0", p)
	}
	// Break-glass closes a short.
	wantResult(t, w.send(sign(w.fields("intent_bridge", "ETHUSDT", "SELL", "1", false))), "EXECUTED", "")
	wantResult(t, w.send(sign(w.fields("emergency_stop", "ETHUSDT", "BUY", "1", true))), "EXECUTED", "")
}

// TestPolicyGovernsNextPlan: a publish, a deletion and a tampering made
// while the apply layer runs govern the next plan.
func TestPolicyGovernsNextPlan(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	ctx := context.Background()
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	w.publish(func(p *policy.Policy) { p.TradingState = policy.StateHalted })
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.TradingHalted)
	w.publish(func(p *policy.Policy) { p.TradingState = policy.StateReducing })
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.TradingStateReducing)
	w.publish(func(p *policy.Policy) { p.LeverageBySymbol["BTCUSDT"] = 5 })
	f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
	f["leverage"] = "10"
	wantResult(t, w.send(sign(f)), "DENIED", reason.LeverageExceedsPolicy)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "XRPUSDT", "BUY", "1", false))), "DENIED", reason.SymbolNotInUniverse)

	env.Client.HSet(ctx, env.Keys.PolicyCurrent(), "trading_state", "ACTIVE ")
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.PolicyHashMismatch)
	env.Client.Del(ctx, env.Keys.PolicyCurrent())
	r := w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)))
	wantResult(t, r, "DENIED", reason.PolicyMissing)
	if r["policy_hash"] != "" {
		t.Fatalf("a denial without a policy names one: %v", r)
	}
	w.publish(func(p *policy.Policy) {})
	r = w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)))
	wantResult(t, r, "EXECUTED", "")
	if r["policy_seq"] == "" || r["policy_hash"] == "" || r["policy_version"] != "1.0.0-test" {
		t.Fatalf("result lacks the policy it ran under: %v", r)
	}
}

// TestMalformedPlans: garbage gets PLAN_INVALID naming the field, is
// acknowledged, and does not block the stream.
func TestMalformedPlans(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	bad := []struct {
		mutate func(f map[string]string)
		field  string
	}{
		{func(f map[string]string) { f["side"] = "HOLD" }, "side"},
		{func(f map[string]string) { f["qty"] = "-1" }, "qty"},
		{func(f map[string]string) { f["qty"] = "1e999" }, "qty"},
		{func(f map[string]string) { f["type"] = "STOP" }, "type"},
		{func(f map[string]string) { f["type"] = "LIMIT" }, "price"},
		{func(f map[string]string) { delete(f, "symbol") }, "symbol"},
		{func(f map[string]string) { f["reduceOnly"] = "maybe" }, "reduceOnly"},
		{func(f map[string]string) { f["timestamp"] = "yesterday" }, "timestamp"},
		{func(f map[string]string) { f["decision"] = "YOLO" }, "decision"},
	}
	for _, b := range bad {
		f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
		b.mutate(f)
		r := w.send(sign(f))
		wantResult(t, r, "DENIED", reason.PlanInvalid)
		if !strings.Contains(r["detail"], "field "+b.field) {
			t.Errorf("detail %q does not name field %s", r["detail"], b.field)
		}
	}
	// An entry with no plan_id at all still gets its one result.
	w.xadd(map[string]string{"garbage": strings.Repeat("x", 1000)})
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, r := range redistest.StreamEntries(t, env.Client, env.Keys.ApplyResult()) {
			if r["plan_id"] == "" && r["reason"] == "PLAN_INVALID" {
				n++
			}
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d results for the garbage entry, want 1", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// SKIP and BLOCKED are recorded as SKIPPED, and the stream still flows.
	f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
	f["decision"] = "SKIP"
	wantResult(t, w.send(sign(f)), "SKIPPED", "")
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	pending, err := env.Client.XPending(context.Background(), env.Keys.ApplyPlan(), applylayer.DefaultGroup).Result()
	if err != nil || pending.Count != 0 {
		t.Fatalf("pending entries after processing: %+v %v", pending, err)
	}
}

// TestCanary: a canary of the proof source runs every gate and is
// recorded, but never reaches the venue; a canary of any other source, and
// a real plan of the proof source, are denied before any gate.
func TestCanary(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.start(nil)
	f := w.fields("quantum_proof", "BTCUSDT", "BUY", "0.01", false)
	f["canary"] = "true"
	r := w.send(sign(f))
	wantResult(t, r, "SKIPPED", "")
	if r["canary"] != "true" || w.orderCount() != 0 {
		t.Fatalf("canary result %v, %d orders", r, w.orderCount())
	}
	f = w.fields("quantum_proof", "BTCUSDT", "SELL", "0.01", true)
	f["canary"] = "true"
	r = w.send(sign(f))
	wantResult(t, r, "DENIED", reason.DenyNotExitOwner) // a denied canary keeps its code
	if r["canary"] != "true" {
		t.Fatalf("canary flag lost: %v", r)
	}
	// A hostile producer marks its exit canary, so that the watch would
	// count its denial apart: refused as a canary.
	f = w.fields("rogue", "BTCUSDT", "SELL", "0.01", true)
	f["canary"] = "true"
	wantResult(t, w.send(sign(f)), "DENIED", reason.PlanCanaryNotProofSource)
	f = w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true)
	f["canary"] = "true"
	wantResult(t, w.send(sign(f)), "DENIED", reason.PlanCanaryNotProofSource)
	// The proof key places no real order.
	wantResult(t, w.send(sign(w.fields("quantum_proof", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.AuthProofSourceCanaryOnly)
	if w.orderCount() != 0 {
		t.Fatalf("%d orders: canaries and the proof source must never reach the venue", w.orderCount())
	}
}

// TestRateAndNotionalLimits: the policy's optional limits.
func TestRateAndNotionalLimits(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.publish(func(p *policy.Policy) {
		p.MaxOrdersPerMinute = 2
		p.MaxNotionalUSDTBySymbol = map[string]float64{"BTCUSDT": 1000}
	})
	w.start(nil)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.1", false))), "DENIED", reason.NotionalExceedsMaxPerOrder)
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	wantResult(t, w.send(sign(w.fields("intent_bridge", "ETHUSDT", "BUY", "0.1", false))), "EXECUTED", "")
	r := w.send(sign(w.fields("intent_bridge", "ETHUSDT", "BUY", "0.1", false)))
	// Two orders per minute: the third is refused unless the minute turned.
	if r["decision"] != "DENIED" && r["decision"] != "EXECUTED" {
		t.Fatalf("third order: %v", r)
	}
	if r["decision"] == "DENIED" {
		wantResult(t, r, "DENIED", reason.RateLimitExceeded)
	}
	// Closing is never rate-limited.
	wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))), "EXECUTED", "")
}

// TestReplicasShareTheGroup: three consumers, every plan exactly one result
// and at most one order.
func TestReplicasShareTheGroup(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	for i := range 3 {
		w.start(func(c *applylayer.Config) { c.Consumer = fmt.Sprintf("replica-%d", i) })
	}
	const n = 150
	ids := make([]string, n)
	for i := range n {
		f := sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false))
		ids[i] = f["plan_id"]
		w.xadd(f)
	}
	for _, id := range ids {
		w.result(id, 1)
	}
	counts := map[string]int{}
	consumers := map[string]bool{}
	for _, r := range redistest.StreamEntries(t, env.Client, env.Keys.ApplyResult()) {
		counts[r["plan_id"]]++
		consumers[r["consumer"]] = true
		wantResult(t, r, "EXECUTED", "")
	}
	for _, id := range ids {
		if counts[id] != 1 {
			t.Fatalf("plan %s has %d results", id, counts[id])
		}
	}
	if w.orderCount() != n || w.position("SOLUSDT") != n {
		t.Fatalf("%d orders, position %v; want %d each", w.orderCount(), w.position("SOLUSDT"), n)
	}
	t.Logf("consumers that did work: %v", consumers)
}

// TestPositionsWithinABatch: plans read in one batch see the positions left
// by the batch's earlier fills, so an entry followed by a non-owner's
// opposite-side order in the same batch is still an exit, and denied.
func TestPositionsWithinABatch(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	open := sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.02", false))
	sneak := sign(w.fields("intent_bridge", "BTCUSDT", "SELL", "0.02", false))
	flip := sign(w.fields("rogue", "BTCUSDT", "SELL", "0.05", false))
	close := sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.02", true))
	again := sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))
	for _, f := range []map[string]string{open, sneak, flip, close, again} {
		w.xadd(f) // all waiting before the consumer starts: one batch
	}
	w.start(nil)
	wantResult(t, w.result(open["plan_id"], 1)[0], "EXECUTED", "")
	wantResult(t, w.result(sneak["plan_id"], 1)[0], "DENIED", reason.DenyNotExitOwner)
	wantResult(t, w.result(flip["plan_id"], 1)[0], "DENIED", reason.DenyNotExitOwner)
	wantResult(t, w.result(close["plan_id"], 1)[0], "EXECUTED", "")
	wantResult(t, w.result(again["plan_id"], 1)[0], "DENIED", reason.ReduceOnlyWouldIncrease)
	if p := w.position("BTCUSDT"); p != 0 {
		t.Fatalf("position %v, want 0", p)
	}
}
