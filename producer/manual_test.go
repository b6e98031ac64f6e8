package producer

import (
	"testing"
	"time"

	"github.com/quantumtrader/quantum/plan"
)

// TestManualBuild: the enumerations are upper-cased, price and leverage
// appear only when given, the source is the signer's and the signature
// verifies; a plan that does not parse is refused, never signed.
func TestManualBuild(t *testing.T) {
	s := Signer{Source: "ops", Secret: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1700000000, 0)
	f, err := Manual{ID: "send-1", Decision: "execute", Symbol: "BTCUSDT", Side: "buy", Type: "market", Qty: "0.01", Action: "MANUAL"}.Build(s, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{plan.FieldDecision: "EXECUTE", plan.FieldSide: "BUY", plan.FieldType: "MARKET", plan.FieldSource: "ops",
		plan.FieldTimestamp: "1700000000", plan.FieldReduceOnly: "false", plan.FieldCanary: "false"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if _, ok := f[plan.FieldPrice]; ok {
		t.Errorf("price without --price: %v", f)
	}
	if _, ok := f[plan.FieldLeverage]; ok {
		t.Errorf("leverage without --leverage: %v", f)
	}
	if !plan.Verify(f, f[plan.FieldSig], s.Secret) {
		t.Errorf("signature does not verify: %v", f)
	}
	f, err = Manual{ID: "send-2", Decision: "EXECUTE", Symbol: "BTCUSDT", Side: "SELL", Type: "LIMIT", Qty: "1", Price: "65000", Leverage: 3, ReduceOnly: true}.Build(s, now)
	if err != nil || f[plan.FieldPrice] != "65000" || f[plan.FieldLeverage] != "3" || f[plan.FieldReduceOnly] != "true" {
		t.Fatalf("limit plan: %v, %v", f, err)
	}
	if f, err := (Manual{ID: "send-3", Decision: "EXECUTE", Symbol: "btc", Side: "BUY", Type: "MARKET", Qty: "1"}).Build(s, now); err == nil {
		t.Fatalf("a bad symbol was signed: %v", f)
	}
}
