package plan_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleResult() plan.Result {
	return plan.Result{
		PlanID: "p-1", Source: "exitbrain_v3_5", Symbol: "BTCUSDT", Decision: plan.Executed, Executed: true,
		PolicyVersion: "1.0.0", PolicySeq: "7", PolicyHash: "ab12", ClientOrderID: "qt-1", ExchangeOrderID: "99",
		FilledQty: "0.01", AvgPrice: "60000", Canary: false, Timestamp: 1700000000, PlanEntryID: "1-0",
		Action: "FULL_CLOSE_PROPOSED", Side: "SELL", OrderStatus: "FILLED", Detail: "", Consumer: "host-1",
		ReduceOnly: true, Qty: "0.01", RequestedQty: "0.0100000000000001", Leverage: "10", RequestedLeverage: "10.5",
	}
}

// TestResultFieldsGolden fixes the field names and their order: the legacy
// readers and operators' redis-cli habits depend on them.
func TestResultFieldsGolden(t *testing.T) {
	r := sampleResult()
	f := r.Fields()
	var b strings.Builder
	for i := 0; i < len(f); i += 2 {
		b.WriteString(f[i] + "=" + f[i+1] + "\n")
	}
	golden := filepath.Join("testdata", "result_fields.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -run Golden -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("result fields changed:\n got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestResultRoundTrip: what Fields writes, ParseResult reads back the same,
// for every outcome.
func TestResultRoundTrip(t *testing.T) {
	for _, o := range plan.Outcomes() {
		r := sampleResult()
		r.Decision, r.Executed = o, o == plan.Executed
		if o == plan.Denied {
			r.Reason = reason.DenyNotExitOwner
		}
		f := r.Fields()
		vals := map[string]any{}
		for i := 0; i < len(f); i += 2 {
			vals[f[i]] = f[i+1]
		}
		got := plan.ParseResult(vals)
		want := r
		want.Error = r.Reason
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", o, got, want)
		}
		if len(got.Map()) != len(f)/2 {
			t.Errorf("%s: Map has %d fields, Fields %d (a name repeats)", o, len(got.Map()), len(f)/2)
		}
	}
}

// TestParseResultHostile: a malformed or forged entry is read as text,
// never a crash; a legacy entry carrying only `error` is still a denial.
func TestParseResultHostile(t *testing.T) {
	r := plan.ParseResult(map[string]any{"decision": 42, "error": "DENY_NOT_EXIT_OWNER", "timestamp": "soon", "canary": "TRUE"})
	if r.Decision != "42" || r.Timestamp != 0 || r.Canary || !r.DeniedFor(reason.DenyNotExitOwner) || r.Passed() {
		t.Fatalf("hostile entry read as %+v", r)
	}
	if empty := plan.ParseResult(nil); empty.Decision != "" || empty.DeniedFor(reason.DenyNotExitOwner) {
		t.Fatalf("empty entry read as %+v", empty)
	}
}
