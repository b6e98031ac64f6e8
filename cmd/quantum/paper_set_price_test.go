package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

// TestDailyLossStopWithSetPrice: two apply-layer replicas under a policy
// with max_daily_loss_usdt 100. A long is opened; `quantum paper
// set-price` moves its mark to a 150 USDT loss; from then on every entry
// (an add, a new symbol, on either replica) is denied with
// DAILY_LOSS_LIMIT_REACHED, the owner's close executes (and realizes the
// loss, which keeps the stop on), and DAILY_LOSS_LIMIT is in the alert
// stream exactly once.
func TestDailyLossStopWithSetPrice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rd := redistest.New(t)
	key, err := policy.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	trusted := policy.NewTrustedKeys(key.Public())
	store, err := policystore.New(rd.Client, policystore.Options{Keys: rd.Keys, Keyring: trusted, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.SignAndPublish(ctx, &policy.Content{
		UniverseSymbols: []string{"BTCUSDT", "ETHUSDT"}, LeverageBySymbol: map[string]float64{"BTCUSDT": 10, "ETHUSDT": 10},
		HarvestParams: map[string]float64{}, KillParams: map[string]float64{},
		PolicyVersion: "loss-test", TradingState: policy.StateActive, MaxDailyLossUSDT: 100,
	}, key, policystore.Release{Validity: 2 * time.Hour, Generator: "test", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"intent_bridge":  []byte("intent-bridge-secret-0123456789abcdef012345"),
		"exitbrain_v3_5": []byte("exitbrain-secret-0123456789abcdef0123456789"),
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range []string{"replica-1", "replica-2"} {
		venue, err := paper.New(rd.Client, rd.Keys, map[string]string{"BTCUSDT": "1000", "ETHUSDT": "100"})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := app.NewApplyLayer(app.ApplyLayerOptions{
			Redis: rd.Client, Keys: rd.Keys, Venue: venue, Trusted: trusted, Secrets: plan.NewSecrets(secrets),
			ExitOwner: gate.DefaultExitOwner, Consumer: name, Batch: 1, Block: 100 * time.Millisecond, Now: time.Now, Log: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		stop, err := app.Start(ctx, svc, 10*time.Second, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	n := 0
	send := func(source, symbol, side, qty string, reduceOnly bool) map[string]string {
		t.Helper()
		n++
		f := plan.SignFields(map[string]string{
			"plan_id": fmt.Sprintf("loss-%d-%d", n, time.Now().UnixNano()), "decision": "EXECUTE", "symbol": symbol,
			"side": side, "type": "MARKET", "qty": qty, "reduceOnly": strconv.FormatBool(reduceOnly),
			"source": source, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "action": "TEST",
		}, secrets[source])
		if err := rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: rd.Keys.ApplyPlan(), Values: f}).Err(); err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		eventually(t, 10*time.Second, "the result of "+f["plan_id"], func() (bool, string) {
			for _, r := range redistest.StreamEntries(t, rd.Client, rd.Keys.ApplyResult()) {
				if r["plan_id"] == f["plan_id"] {
					got = r
					return true, ""
				}
			}
			return false, "no result"
		})
		return got
	}
	want := func(r map[string]string, decision, code string) {
		t.Helper()
		if r["decision"] != decision || r["reason"] != code {
			t.Fatalf("%s %s %s: %s %s, want %s %s", r["source"], r["side"], r["symbol"], r["decision"], r["reason"], decision, code)
		}
	}
	want(send("intent_bridge", "BTCUSDT", "BUY", "1", false), "EXECUTED", "")
	h := newHarness(t, map[string]string{"QUANTUM_REDIS_URL": rd.Server.URL(), "QUANTUM_PREFIX": rd.Keys.Prefix()})
	// As quantum dev's header prints it: flags first.
	newHarness(t, nil).run("paper", "set-price", "--redis", rd.Server.URL(), "--prefix", rd.Keys.Prefix(), "BTCUSDT=900").
		want(t, 0, "BTCUSDT  900", "day PnL", "-100.00 USDT")
	want(send("intent_bridge", "ETHUSDT", "BUY", "1", false), "DENIED", "DAILY_LOSS_LIMIT_REACHED") // at the limit
	h.run("paper", "set-price", "BTCUSDT=850").want(t, 0, "-150.00 USDT")
	for range 4 { // both replicas, an add and a new position
		want(send("intent_bridge", "BTCUSDT", "BUY", "0.1", false), "DENIED", "DAILY_LOSS_LIMIT_REACHED")
		want(send("intent_bridge", "ETHUSDT", "SELL", "1", false), "DENIED", "DAILY_LOSS_LIMIT_REACHED")
	}
	want(send("exitbrain_v3_5", "BTCUSDT", "SELL", "1", true), "EXECUTED", "")
	want(send("intent_bridge", "ETHUSDT", "BUY", "1", false), "DENIED", "DAILY_LOSS_LIMIT_REACHED") // realized now
	alerts := 0
	for _, a := range redistest.StreamEntries(t, rd.Client, rd.Keys.Alerts()) {
		if a["alert_type"] == "DAILY_LOSS_LIMIT" {
			alerts++
			if a["status"] != "firing" || a["day"] != time.Now().UTC().Format(time.DateOnly) || a["account"] != rd.Keys.Prefix() {
				t.Errorf("alert %v", a)
			}
		}
	}
	if alerts != 1 {
		t.Fatalf("%d DAILY_LOSS_LIMIT alerts after 10 denials, want 1", alerts)
	}
	// quantum status shows the day's PnL against the limit, and needs attention.
	h.run("status").want(t, 1, "day PnL -150.00 USDT (max loss 100)", "entries are denied (DAILY_LOSS_LIMIT_REACHED)", "DAILY_LOSS_LIMIT firing")
	h.run("paper", "set-price", "BTCUSDT=0").want(t, 2, "want a price > 0")
	h.run("paper", "set-price").want(t, 2, "at least one SYMBOL=PRICE")
}
