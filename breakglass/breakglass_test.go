package breakglass

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
	"github.com/quantumtrader/quantum/reason"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// open trades on the paper venue of env, as the apply layer would.
func open(t *testing.T, env *redistest.Env, id, sym string, side market.Side, qty string) {
	t.Helper()
	v, err := paper.New(env.Client, env.Keys, map[string]string{"BTCUSDT": "65000", "ETHUSDT": "3000", "SOLUSDT": "150"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.PlaceOrder(context.Background(), exchange.Order{ClientOrderID: id, Symbol: sym, Side: side, Type: market.Market, Qty: qty}); err != nil {
		t.Fatal(err)
	}
}

// TestPositions: a long is closed by a SELL and a short by a BUY of its
// whole size; a flat position and a symbol never traded give no close; a
// symbol that is not one is refused, never looked up.
func TestPositions(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	open(t, env, "qt-1", "BTCUSDT", market.Buy, "0.5")
	open(t, env, "qt-2", "ETHUSDT", market.Sell, "2")
	open(t, env, "qt-3", "SOLUSDT", market.Buy, "3")
	open(t, env, "qt-4", "SOLUSDT", market.Sell, "3")
	all, err := Positions(ctx, env.Client, env.Keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Close{"BTCUSDT": {"BTCUSDT", "SELL", "0.5"}, "ETHUSDT": {"ETHUSDT", "BUY", "2"}}
	if len(all) != len(want) {
		t.Fatalf("closes %v, want %v", all, want)
	}
	for _, c := range all {
		if want[c.Symbol] != c {
			t.Errorf("close %v, want %v", c, want[c.Symbol])
		}
	}
	some, err := Positions(ctx, env.Client, env.Keys, []string{"ETHUSDT", "XRPUSDT", "SOLUSDT"})
	if err != nil || len(some) != 1 || some[0] != want["ETHUSDT"] {
		t.Fatalf("closes of ETHUSDT, XRPUSDT, SOLUSDT: %v, %v", some, err)
	}
	if _, err := Positions(ctx, env.Client, env.Keys, []string{"btc*"}); err == nil {
		t.Fatal("a bad symbol was looked up")
	}
}

func options(env *redistest.Env, flatten bool, wait time.Duration) Options {
	return Options{Redis: env.Client, Keys: env.Keys, Signer: producer.Signer{Source: SourceEmergencyStop, Secret: []byte("0123456789abcdef0123456789abcdef")},
		Flatten: flatten, Wait: wait, Actor: "alice", Command: "flatten", Now: time.Now}
}

// TestSendWithoutResult: with no apply layer running (down, or crashed
// mid-close), every close is still sent signed and reduceOnly, reported
// NO_RESULT, audited and alerted critical: the operator's hand on the
// positions is never silent.
func TestSendWithoutResult(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	rep, err := Send(ctx, options(env, true, 300*time.Millisecond), []Close{{"BTCUSDT", "SELL", "0.5"}, {"ETHUSDT", "BUY", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.WaitErr != nil || len(rep.Results) != 2 {
		t.Fatalf("report %+v", rep)
	}
	plans := redistest.StreamEntries(t, env.Client, env.Keys.ApplyPlan())
	audit := redistest.StreamEntries(t, env.Client, env.Keys.OperatorAudit())
	alerts := redistest.StreamEntries(t, env.Client, env.Keys.Alerts())
	if len(plans) != 2 || len(audit) != 2 || len(alerts) != 2 {
		t.Fatalf("%d plans, %d audit entries, %d alerts: want 2 each", len(plans), len(audit), len(alerts))
	}
	for i, r := range rep.Results {
		if r.Arrived || r.Executed || r.Outcome != "NO_RESULT" || r.AuditErr != nil || r.AlertErr != nil {
			t.Errorf("result %+v", r)
		}
		p, err := plan.Parse(plans[i])
		if err != nil || p.ID != r.PlanID || !p.ReduceOnly || p.Source != SourceEmergencyStop || plans[i][plan.FieldAction] != "EMERGENCY_FLATTEN" {
			t.Errorf("plan %v (%v) for %+v", plans[i], err, r)
		}
		if !plan.Verify(plans[i], plans[i][plan.FieldSig], options(env, true, 0).Signer.Secret) {
			t.Errorf("plan %s not signed by the break-glass key", r.PlanID)
		}
		if a := audit[i]; a["actor"] != "alice" || a["command"] != "flatten" || a["plan_id"] != r.PlanID || a["result"] != "NO_RESULT" || a["qty"] != r.Qty {
			t.Errorf("audit %v for %+v", a, r)
		}
		if a := alerts[i]; a["alert_type"] != AlertManualExit || a["severity"] != "critical" || a["first_plan_id"] != r.PlanID || a["outcome"] != "NO_RESULT" {
			t.Errorf("alert %v for %+v", a, r)
		}
	}
}

// TestSendReportsDenial: a close the apply layer denies (here its result
// is written through the result wire format by a stand-in reading the plan
// stream) comes back as DENIED with its reason, alerted as a warning for a
// manual close.
func TestSendReportsDenial(t *testing.T) {
	env := redistest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the stand-in: one DENIED result per plan
		last := "0"
		for ctx.Err() == nil {
			st, err := env.Client.XRead(ctx, &redis.XReadArgs{Streams: []string{env.Keys.ApplyPlan(), last}, Block: 100 * time.Millisecond}).Result()
			if err != nil {
				continue
			}
			for _, m := range st[0].Messages {
				last = m.ID
				r := plan.Result{PlanID: m.Values[plan.FieldPlanID].(string), Decision: plan.Denied, Reason: reason.DenyNotExitOwner, FilledQty: "0"}
				env.Client.XAdd(ctx, &redis.XAddArgs{Stream: env.Keys.ApplyResult(), Values: r.Fields()})
			}
		}
	}()
	opt := options(env, false, 10*time.Second)
	opt.Signer.Source = SourceManualClose
	rep, err := Send(ctx, opt, []Close{{"SOLUSDT", "SELL", "1"}})
	if err != nil || rep.WaitErr != nil {
		t.Fatal(err, rep)
	}
	r := rep.Results[0]
	if !r.Arrived || r.Executed || r.Outcome != "DENIED DENY_NOT_EXIT_OWNER" || r.FilledQty != "0" {
		t.Fatalf("result %+v", r)
	}
	alerts := redistest.StreamEntries(t, env.Client, env.Keys.Alerts())
	if len(alerts) != 1 || alerts[0]["severity"] != "warning" || alerts[0]["outcome"] != r.Outcome || alerts[0]["sources"] != SourceManualClose {
		t.Fatalf("alerts %v", alerts)
	}
}

// TestSendStopsAtAnInvalidClose: a close that makes no valid plan stops the
// send with a *PlanError naming its symbol; the closes before it are sent,
// nothing after it.
func TestSendStopsAtAnInvalidClose(t *testing.T) {
	env := redistest.New(t)
	_, err := Send(context.Background(), options(env, true, time.Second), []Close{{"BTCUSDT", "SELL", "0.5"}, {"ETHUSDT", "BUY", "-2"}, {"SOLUSDT", "SELL", "1"}})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Symbol != "ETHUSDT" {
		t.Fatalf("err %v, want a *PlanError of ETHUSDT", err)
	}
	if plans := redistest.StreamEntries(t, env.Client, env.Keys.ApplyPlan()); len(plans) != 1 || plans[0][plan.FieldSymbol] != "BTCUSDT" {
		t.Fatalf("plans sent %v, want BTCUSDT's only", plans)
	}
}

// TestSingle: a side and qty given are taken as they are, position or not;
// one missing is taken from the open position; with no position to take
// it from, ErrNoPosition, never a guess.
func TestSingle(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	open(t, env, "qt-s1", "ETHUSDT", market.Sell, "2")
	for _, tc := range []struct {
		side, qty string
		want      Close
	}{
		{"BUY", "1", Close{"ETHUSDT", "BUY", "1"}},
		{"", "1", Close{"ETHUSDT", "BUY", "1"}},
		{"", "", Close{"ETHUSDT", "BUY", "2"}},
		{"SELL", "", Close{"ETHUSDT", "SELL", "2"}},
	} {
		if got, err := Single(ctx, env.Client, env.Keys, "ETHUSDT", tc.side, tc.qty); err != nil || got != tc.want {
			t.Errorf("Single(%q, %q) = %v, %v; want %v", tc.side, tc.qty, got, err, tc.want)
		}
	}
	if got, err := Single(ctx, env.Client, env.Keys, "BTCUSDT", "SELL", "1"); err != nil || got != (Close{"BTCUSDT", "SELL", "1"}) {
		t.Errorf("given side and qty, no position: %v, %v", got, err)
	}
	if _, err := Single(ctx, env.Client, env.Keys, "BTCUSDT", "", "1"); !errors.Is(err, ErrNoPosition) {
		t.Errorf("no position: %v, want ErrNoPosition", err)
	}
}
