package proof

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/producer"
)

// exposureState is what exposure-limits' setup did in its scratch namespace.
type exposureState struct {
	ks      keys.Space
	results map[string]*plan.Result // by test step
	notes   map[string]string       // why a step has no result
	alerts  int                     // DAILY_LOSS_LIMIT entries after the loss denials
}

// The scratch account of exposure-limits: BTCUSDT at 1000 and ETHUSDT at
// 100, SOLUSDT at 10, a position cap of 1000 USDT on BTCUSDT, 1500 gross,
// two open positions, a 100 USDT daily loss.
var exposureMarks = map[string]string{"BTCUSDT": "1000", "ETHUSDT": "100", "SOLUSDT": "10"}

func exposureLimits() *Proof {
	p := &Proof{
		Name:    "exposure-limits",
		Script:  "scripts/proof_exposure_limits.sh",
		Purpose: "each exposure limit and the daily loss stop denies an entry, exits pass them all, DAILY_LOSS_LIMIT fires once: the real apply layer and paper venue in a scratch namespace, canaries from the proof source",
		setup:   exposureSetup,
	}
	step := func(name, doc, decision, code string) Test {
		return Test{Name: name, Doc: doc, Run: func(ctx context.Context, r *run) (Status, string) {
			s := stateOf[exposureState](r)
			res := s.results[name]
			if res == nil {
				return Fail, "no result: " + s.notes[name]
			}
			if string(res.Decision) != decision || string(res.Reason) != code {
				return Fail, fmt.Sprintf("plan %s came back %s %s, want %s %s (%s)", res.PlanID, res.Decision, res.Reason, decision, code, res.Detail)
			}
			return Pass, fmt.Sprintf("plan %s %s %s canary=%t: %s", res.PlanID, res.Decision, res.Reason, res.Canary, cmpOrStr(res.Detail, "executed"))
		}}
	}
	p.Tests = []Test{
		step("within-limits", "a canary entry that fits every limit passes every gate (SKIPPED, canary)", "SKIPPED", ""),
		step("position-cap", "a canary adding 0.6 BTC to a 0.5 BTC long (1100 USDT after it, cap 1000) is DENIED POSITION_NOTIONAL_EXCEEDS_MAX", "DENIED", "POSITION_NOTIONAL_EXCEEDS_MAX"),
		step("gross-cap", "a canary taking ETHUSDT to 1100 USDT beside 500 on BTCUSDT (cap 1500) is DENIED GROSS_EXPOSURE_EXCEEDS_MAX", "DENIED", "GROSS_EXPOSURE_EXCEEDS_MAX"),
		step("open-positions", "a canary opening a third position (SOLUSDT, max 2) is DENIED MAX_OPEN_POSITIONS_REACHED", "DENIED", "MAX_OPEN_POSITIONS_REACHED"),
		step("daily-loss", "after the BTCUSDT mark moves to a 150 USDT loss (paper set-price), a canary entry is DENIED DAILY_LOSS_LIMIT_REACHED", "DENIED", "DAILY_LOSS_LIMIT_REACHED"),
		step("exit-passes", "with the day's loss beyond its limit, the exit owner's reduceOnly close of the BTCUSDT long EXECUTES (a scratch paper order)", "EXECUTED", ""),
		step("exit-flip-checked", "an owner order flipping the ETHUSDT long into a 1100 USDT short grows a position: DENIED like an entry (DAILY_LOSS_LIMIT_REACHED)", "DENIED", "DAILY_LOSS_LIMIT_REACHED"),
		{Name: "loss-alert-once", Doc: "the loss denials raised DAILY_LOSS_LIMIT exactly once (firing) in the scratch alert stream",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := stateOf[exposureState](r)
				if s.alerts != 1 {
					return Fail, fmt.Sprintf("%d DAILY_LOSS_LIMIT alerts in %s after 2 loss denials, want 1", s.alerts, s.ks.Alerts())
				}
				return Pass, fmt.Sprintf("one DAILY_LOSS_LIMIT alert in %s after 2 loss denials", s.ks.Alerts())
			}},
	}
	return p
}

func cmpOrStr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// exposureSetup publishes a policy with every exposure limit in a scratch
// namespace, runs a real apply layer there on a scratch paper venue, and
// sends the steps in order: two producer entries open the account, the
// proof's canaries meet each limit, the mark moves, the owner exits.
func exposureSetup(ctx context.Context, r *run) error {
	if r.ProofKeyErr != nil || len(r.ProofSecret) == 0 {
		return fmt.Errorf("no canary key: %v (set QUANTUM_PROOF_KEY_FILE to the quantum_proof keyring line)", r.ProofKeyErr)
	}
	s := &exposureState{ks: r.newScratch(), results: map[string]*plan.Result{}, notes: map[string]string{}}
	r.state = s
	key, err := policy.GenerateKey()
	if err != nil {
		return fmt.Errorf("scratch key: %w", err)
	}
	trusted := policy.NewTrustedKeys(key.Public())
	store, err := policystore.New(r.Redis, policystore.Options{Keys: s.ks, Keyring: trusted, Now: r.Now})
	if err != nil {
		return err
	}
	if _, _, err := store.SignAndPublish(ctx, &policy.Content{
		UniverseSymbols:  []string{"BTCUSDT", "ETHUSDT", "SOLUSDT"},
		LeverageBySymbol: map[string]float64{"BTCUSDT": 5, "ETHUSDT": 5, "SOLUSDT": 5},
		HarvestParams:    map[string]float64{}, KillParams: map[string]float64{},
		PolicyVersion: "proof-exposure", TradingState: policy.StateActive, Generator: "quantum-proof",
		MaxPositionNotionalUSDTBySymbol: map[string]float64{"BTCUSDT": 1000},
		MaxGrossExposureUSDT:            1500, MaxOpenPositions: 2, MaxDailyLossUSDT: 100,
	}, key, policystore.Release{Seq: 1, Validity: time.Hour, Actor: "quantum-proof"}); err != nil {
		return fmt.Errorf("publish the scratch policy: %w", err)
	}
	venue, err := paper.New(r.Redis, s.ks, exposureMarks)
	if err != nil {
		return err
	}
	owner, producerSrc := "proof_owner_"+r.id, "proof_producer_"+r.id
	secrets := map[string][]byte{r.ProofSource: r.ProofSecret, owner: randomSecret(), producerSrc: randomSecret()}
	svc, err := applylayer.New(r.Redis, store, venue, applylayer.Config{
		Keys: s.ks, Consumer: "proof-" + r.id, Block: 100 * time.Millisecond, Keyring: plan.NewSecrets(secrets),
		Gate: gate.Config{ExitOwner: owner, ProofSource: r.ProofSource}, Now: r.Now, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	svcCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(svcCtx, nil); close(done) }()
	defer func() { stop(); <-done }()

	n := 0
	send := func(name, source, symbol, side, qty string, reduceOnly bool) error {
		n++
		f := map[string]string{
			plan.FieldPlanID: r.planID(fmt.Sprintf("exposure%d", n)), plan.FieldDecision: string(plan.Execute), plan.FieldSymbol: symbol,
			plan.FieldSide: side, plan.FieldType: "MARKET", plan.FieldQty: qty, plan.FieldReduceOnly: strconv.FormatBool(reduceOnly),
			plan.FieldSource: source, plan.FieldTimestamp: strconv.FormatInt(r.Now().Unix(), 10), plan.FieldAction: "PROOF_EXPOSURE",
		}
		if source == r.ProofSource {
			f[plan.FieldCanary] = "true"
		}
		f = plan.SignFields(f, secrets[source])
		cursor, err := producer.Cursor(ctx, r.Redis, s.ks)
		if err != nil {
			return err
		}
		if _, err := producer.Send(ctx, r.Redis, s.ks, f); err != nil {
			return err
		}
		got, err := producer.Await(ctx, r.Redis, s.ks, cursor, r.CanaryTimeout, f[plan.FieldPlanID])
		if res, ok := got[f[plan.FieldPlanID]]; ok {
			s.results[name] = &res.Result
			return nil
		}
		s.notes[name] = fmt.Sprintf("plan %s: %v", f[plan.FieldPlanID], err)
		return nil
	}
	proof := r.ProofSource
	steps := []struct {
		name, source, symbol, side, qty string
		reduceOnly                      bool
	}{
		{"open-btc", producerSrc, "BTCUSDT", "BUY", "0.5", false}, // 500 USDT
		{"open-eth", producerSrc, "ETHUSDT", "BUY", "5", false},   // 500 USDT: gross 1000, 2 open
		{"within-limits", proof, "BTCUSDT", "BUY", "0.1", false},
		{"position-cap", proof, "BTCUSDT", "BUY", "0.6", false},
		{"gross-cap", proof, "ETHUSDT", "BUY", "6", false},
		{"open-positions", proof, "SOLUSDT", "BUY", "1", false},
	}
	for _, st := range steps {
		if err := send(st.name, st.source, st.symbol, st.side, st.qty, st.reduceOnly); err != nil {
			return err
		}
	}
	for _, name := range []string{"open-btc", "open-eth"} {
		if res := s.results[name]; res == nil || res.Decision != plan.Executed {
			return fmt.Errorf("the scratch account could not be opened: %s: %+v %s", name, res, s.notes[name])
		}
	}
	if err := paper.SetPrices(ctx, r.Redis, s.ks, map[string]string{"BTCUSDT": "700"}); err != nil { // 0.5 x -300: a 150 USDT loss
		return err
	}
	for _, st := range []struct {
		name, source, symbol, side, qty string
		reduceOnly                      bool
	}{
		{"daily-loss", proof, "ETHUSDT", "BUY", "0.1", false},
		{"exit-passes", owner, "BTCUSDT", "SELL", "0.5", true},
		{"exit-flip-checked", owner, "ETHUSDT", "SELL", "16", false},
	} {
		if err := send(st.name, st.source, st.symbol, st.side, st.qty, st.reduceOnly); err != nil {
			return err
		}
	}
	entries, err := r.Redis.XRange(ctx, s.ks.Alerts(), "-", "+").Result()
	if err != nil {
		return fmt.Errorf("read the scratch alerts: %w", err)
	}
	for _, e := range entries {
		if e.Values["alert_type"] == alert.TypeDailyLossLimit {
			s.alerts++
		}
	}
	return nil
}

func randomSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}
