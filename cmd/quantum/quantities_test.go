package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/plan"
)

// TestPythonQuantitiesExecuteRounded: intent_bridge's qty =
// str(position_usd * leverage / price) has 16-18 decimals; through a real
// apply layer on the paper venue (Binance-like steps by default, one
// overridden with --paper-step) it executes rounded down to the step, and
// the result records both the requested and the sent quantity. A quantity
// under one step fails -1013, placing nothing.
func TestPythonQuantitiesExecuteRounded(t *testing.T) {
	ae := newApplyEnv(t)
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--paper-step", "SOLUSDT=0.1")...)
	waitFor(t, logs, "apply layer consuming")
	send := func(code int, sym, qty string, fragments ...string) {
		t.Helper()
		ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", sym, "--side", "BUY", "--qty", qty, "--wait", "10s", "--json").
			want(t, code, fragments...)
	}
	send(0, "BTCUSDT", "0.015384615384615385", `"decision": "EXECUTED"`, `"qty": "0.015"`, `"requested_qty": "0.015384615384615385"`, `"filled_qty": "0.015"`,
		`"details": "{\"side\":\"BUY\",\"qty\":\"0.015\",\"filled_qty\":\"0.015\",\"order_status\":\"FILLED\"`)
	send(0, "SOLUSDT", "6.666666666666667", `"qty": "6.6"`, `"requested_qty": "6.666666666666667"`, `"filled_qty": "6.6"`)
	send(1, "BTCUSDT", "0.0004", `"decision": "FAILED"`, `"reason": "EXCHANGE_REJECTED"`, "-1013", `"requested_qty": "0.0004"`)
	ae.run(ae.daemonArgs("--paper-step", "SOLUSDT=0")...).want(t, 2, "--paper-step")
}

// TestPythonNumbersThroughDaemon: the numbers intent_bridge writes with
// str() of a float (issue 13, Why 7), signed as sent, through a real apply
// layer on the paper venue: a quantity in exponent notation executes
// rounded down to the step (or fails -1013 under one step, placing
// nothing), and a fractional leverage is sent rounded down (the venue's
// leverage is the whole number) or, when what was asked exceeds the
// policy's, denied LEVERAGE_EXCEEDS_POLICY; 10.0-style leverage executes.
// Every result records what was asked and what was sent.
func TestPythonNumbersThroughDaemon(t *testing.T) {
	ae := newApplyEnv(t)
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--paper-price", "ETHUSDT=3000", "--paper-step", "ETHUSDT=0.00001")...)
	waitFor(t, logs, "apply layer consuming")
	ctx := context.Background()
	ring, err := plan.LoadSecrets(ae.keyring)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := ring.Secret("intent_bridge")
	n := 0
	send := func(symbol, qty, leverage string) map[string]string {
		t.Helper()
		n++
		f := map[string]string{
			"plan_id": fmt.Sprintf("py-num-%d-%d", n, time.Now().UnixNano()), "decision": "EXECUTE", "symbol": symbol,
			"side": "BUY", "type": "MARKET", "qty": qty, "reduceOnly": "False", "source": "intent_bridge",
			"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "action": "ENTRY_PROPOSED",
		}
		if leverage != "" {
			f["leverage"] = leverage
		}
		f = plan.SignFields(f, secret)
		if err := ae.rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: ae.rd.Keys.ApplyPlan(), Values: f}).Err(); err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		eventually(t, 10*time.Second, "the result of "+f["plan_id"], func() (bool, string) {
			for _, r := range redistest.StreamEntries(t, ae.rd.Client, ae.rd.Keys.ApplyResult()) {
				if r["plan_id"] == f["plan_id"] {
					got = r
					return true, ""
				}
			}
			return false, "no result"
		})
		return got
	}
	want := func(r map[string]string, kv ...string) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			if r[kv[i]] != kv[i+1] {
				t.Errorf("%s %s: %s=%q, want %q\n%v", r["symbol"], r["requested_qty"], kv[i], r[kv[i]], kv[i+1], r)
			}
		}
	}
	venue, err := paper.New(ae.rd.Client, ae.rd.Keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	leverageAt := func(symbol string) int {
		t.Helper()
		ps, err := venue.Positions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Symbol == symbol {
				return p.Leverage
			}
		}
		t.Fatalf("no %s position in %+v", symbol, ps)
		return 0
	}
	// A quantity as str() writes one under 1e-4 (exponent notation): 0.00001 at step 0.00001.
	want(send("ETHUSDT", "1.5384615384615385e-05", ""), "decision", "EXECUTED", "qty", "0.00001",
		"requested_qty", "1.5384615384615385e-05", "filled_qty", "0.00001", "leverage", "", "requested_leverage", "")
	// str(0.00001) = '1e-05' under BTCUSDT's step 0.001: nothing placed.
	r := send("BTCUSDT", "1e-05", "")
	want(r, "decision", "FAILED", "reason", "EXCHANGE_REJECTED", "requested_qty", "1e-05", "filled_qty", "0")
	if !strings.Contains(r["detail"], "-1013") {
		t.Errorf("under one step: %s, want -1013", r["detail"])
	}
	// The policy allows SOLUSDT 5x.
	want(send("SOLUSDT", "1.0", "4.5"), "decision", "EXECUTED", "leverage", "4", "requested_leverage", "4.5", "qty", "1")
	if got := leverageAt("SOLUSDT"); got != 4 {
		t.Errorf("the venue's SOLUSDT leverage is %d, want 4 (4.5 rounded down)", got)
	}
	r = send("SOLUSDT", "1.0", "5.5")
	want(r, "decision", "DENIED", "reason", "LEVERAGE_EXCEEDS_POLICY", "leverage", "5", "requested_leverage", "5.5")
	if !strings.Contains(r["detail"], "leverage 5.5 exceeds the policy's 5") {
		t.Errorf("detail %q does not say what was asked", r["detail"])
	}
	want(send("SOLUSDT", "1", "5.0"), "decision", "EXECUTED", "leverage", "5", "requested_leverage", "5.0")
	if got := leverageAt("SOLUSDT"); got != 5 {
		t.Errorf("the venue's SOLUSDT leverage is %d, want 5", got)
	}
}
