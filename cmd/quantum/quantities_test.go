package main

import (
	"testing"
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
