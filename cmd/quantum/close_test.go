package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/breakglass"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/producer"
)

// addBreakGlassKeys adds manual_close and emergency_stop to the keyring,
// each with its own key file.
func addBreakGlassKeys(t *testing.T, ae *applyEnv) {
	t.Helper()
	f, err := os.OpenFile(ae.keyring, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, src := range []string{breakglass.SourceManualClose, breakglass.SourceEmergencyStop} {
		r := ae.run("plan", "keygen", "--source", src)
		r.want(t, 0, src+" ")
		ae.keyFiles[src] = filepath.Join(ae.dir, src+".key")
		if err := os.WriteFile(ae.keyFiles[src], []byte(r.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(r.stdout); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCloseAndFlatten: the operator's kill switch through a real apply
// layer on the paper venue. Without --break-glass the closes are denied
// DENY_NOT_EXIT_OWNER (the commands are no bypass); with it, close --qty
// reduces a long, flatten --all closes a long and a short to flat; every
// close is audited and alerted MANUAL_EXIT; a key of the wrong source is
// refused before anything is sent.
func TestCloseAndFlatten(t *testing.T) {
	ae := newApplyEnv(t)
	addBreakGlassKeys(t, ae)
	ctx := context.Background()
	entry := func(sym, side, qty string) {
		t.Helper()
		ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", sym, "--side", side, "--qty", qty, "--wait", "10s").want(t, 0, "EXECUTED")
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan int, 1)
		var logs syncBuffer
		go func() {
			done <- cli.Run(ctx, ae.daemonArgs(), &cli.Env{Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return ae.env[k] }})
		}()
		waitFor(t, &logs, "apply layer consuming")
		entry("SOLUSDT", "BUY", "2")
		ae.run("close", "SOLUSDT", "--key-file", ae.keyFiles[breakglass.SourceManualClose]).want(t, 1, "DENIED DENY_NOT_EXIT_OWNER")
		cancel()
		<-done
	}
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--break-glass", "manual_close,emergency_stop", "--consumer", "bg")...)
	waitFor(t, logs, "apply layer consuming")
	entry("BTCUSDT", "SELL", "0.01")
	ae.run("close", "SOLUSDT", "--key-file", ae.keyFiles[breakglass.SourceEmergencyStop]).want(t, 2, "holds the key of emergency_stop")
	ae.run("close", "SOLUSDT", "--qty", "1", "--key-file", ae.keyFiles[breakglass.SourceManualClose]).want(t, 0, "manual_close", "SELL 1 SOLUSDT", "EXECUTED")
	ae.run("close", "ETHUSDT", "--key-file", ae.keyFiles[breakglass.SourceManualClose]).want(t, 1, "no open ETHUSDT position")
	ae.run("flatten", "--key-file", ae.keyFiles[breakglass.SourceEmergencyStop]).want(t, 2, "--all or SYMBOLs")
	ae.env["QUANTUM_EMERGENCY_STOP_KEY_FILE"] = ae.keyFiles[breakglass.SourceEmergencyStop]
	ae.run("flatten", "--all").want(t, 0, "BUY 0.01 BTCUSDT", "SELL 1 SOLUSDT", "EXECUTED")
	ae.run("flatten", "--all").want(t, 0, "nothing to close")

	v, err := paper.New(ae.rd.Client, ae.rd.Keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sym := range []string{"SOLUSDT", "BTCUSDT"} {
		if amt, _, err := v.PositionAmount(ctx, sym); err != nil || amt != "0" {
			t.Errorf("%s position %q (%v) after flatten", sym, amt, err)
		}
	}
	audit := redistest.StreamEntries(t, ae.rd.Client, ae.rd.Keys.OperatorAudit())
	if len(audit) != 4 { // the denied close, the partial close, two flatten closes
		t.Fatalf("audit entries %v, want 4", audit)
	}
	if a := audit[1]; a["command"] != "close" || a["source"] != breakglass.SourceManualClose || a["qty"] != "1" || a["result"] != "EXECUTED" || a["actor"] == "" {
		t.Errorf("audit of the close: %v", a)
	}
	var manual []map[string]string
	for _, a := range redistest.StreamEntries(t, ae.rd.Client, ae.rd.Keys.Alerts()) {
		if a["alert_type"] == breakglass.AlertManualExit {
			manual = append(manual, a)
		}
	}
	if len(manual) != 4 || manual[3]["severity"] != "critical" || manual[1]["severity"] != "warning" || manual[3]["sources"] != breakglass.SourceEmergencyStop {
		t.Errorf("MANUAL_EXIT alerts %v", manual)
	}
}

// loadKeyLine reads a keyring line file as the commands do (tests only).
func loadKeyLine(path string) (string, []byte, error) {
	s, err := producer.LoadSigner(path)
	return s.Source, s.Secret, err
}
