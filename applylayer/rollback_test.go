package applylayer_test

import (
	"context"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// TestRollbackRefusedAcrossRestart is issue 17's attack 3 on the apply
// layer: an older, still validly signed ACTIVE policy restored over the
// operator's HALTED one is refused (POLICY_ROLLBACK) by the running apply
// layer and, after it is stopped and a new one started with a fresh store
// (the restart), by the new one too; the venue sees no order. Before, the
// restarted apply layer accepted the old policy and traded.
func TestRollbackRefusedAcrossRestart(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	w := newWorld(t, env.Client, env.Keys)
	sharedStore := func() *policystore.Store {
		s, err := policystore.New(env.Client, policystore.Options{Keys: env.Keys, Keyring: policy.NewTrustedKeys(w.key.Public()), Now: w.cfg.Now, SharedMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	al, err := alert.New(env.Client, alert.Options{Keys: env.Keys, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.Alerts = al
	run := func() (stop func()) {
		svc, err := applylayer.New(env.Client, sharedStore(), w.venue, w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.Run(runCtx, nil); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := run()
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	active, err := env.Client.HGetAll(ctx, env.Keys.PolicyCurrent()).Result()
	if err != nil {
		t.Fatal(err)
	}
	w.publish(func(p *policy.Policy) { p.TradingState = policy.StateHalted })
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.TradingHalted)

	// The policy writer restores the older ACTIVE policy, byte for byte.
	env.Client.Del(ctx, env.Keys.PolicyCurrent())
	env.Client.HSet(ctx, env.Keys.PolicyCurrent(), active)
	orders := w.orderCount()
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.PolicyRollback)

	stop()
	stop = run() // the restart: a new store, nothing in memory but Redis
	defer stop()
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.PolicyRollback)
	wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))), "DENIED", reason.PolicyRollback)
	if got := w.orderCount(); got != orders {
		t.Fatalf("the venue got %d orders under the rolled-back policy", got-orders)
	}
	// A new publish above the mark is taken up.
	w.publish(func(p *policy.Policy) {})
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	// POLICY_ROLLBACK was raised once for the incident (both processes
	// agree on it) and resolved by the new policy.
	var statuses []string
	for _, a := range redistest.StreamEntries(t, env.Client, env.Keys.Alerts()) {
		if a["alert_type"] == applylayer.TypePolicyRollback {
			statuses = append(statuses, a["status"])
		}
	}
	if len(statuses) != 2 || statuses[0] != "firing" || statuses[1] != "resolved" {
		t.Fatalf("POLICY_ROLLBACK alerts %v, want firing then resolved", statuses)
	}
}
