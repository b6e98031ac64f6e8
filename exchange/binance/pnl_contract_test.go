package binance_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance/binancereplay"
)

// TestContractDayPnL: the docs' income example (testdata/README.md names
// its page) and the SDK's positionRisk v3 mock, served by the replay: the
// COMMISSION counts, the TRANSFER does not, the two rows' shared tranId
// does not make one hide the other, and the unrealized 0.76427700 is
// added, exactly: -0.01 + 0.764277. The request is signed, from startTime
// = since with limit 1000 and no incomeType (one query for every type).
func TestContractDayPnL(t *testing.T) {
	body, err := os.ReadFile("testdata/income_docs_example.json")
	if err != nil {
		t.Fatal(err)
	}
	r := newReplay(t, map[string]string{"GET /fapi/v3/positionRisk": "sdk_position_information_v3.json"})
	r.route("GET /fapi/v1/income", binancereplay.Route{Body: string(body)})
	since := time.Date(2019, 10, 9, 0, 0, 0, 0, time.UTC) // the rows are at 08:00 and 16:00 that day
	got, err := r.c.DayPnL(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	if got != 0.754277 {
		t.Fatalf("DayPnL %v, want 0.754277 (-0.01 commission + 0.764277 unrealized)", got)
	}
	p := r.lastParams("GET", "/fapi/v1/income")
	if p["startTime"] != "1570579200000" || p["limit"] != "1000" || p["incomeType"] != "" || p["signature"] == "" {
		t.Fatalf("income request %v", p)
	}
}

// TestContractDayPnLRefusesBadAnswers: answers the adapter must not sum
// (synthetic bodies built here from the docs' row shape): rows not oldest
// first, a row before the startTime asked, a row without tranId, an income
// that is not a number, a position margined in BNB. Each is an error.
func TestContractDayPnLRefusesBadAnswers(t *testing.T) {
	row := func(typ, income, tm, tran string) string {
		s := `{"symbol":"BTCUSDT","incomeType":"` + typ + `","income":"` + income + `","asset":"USDT","info":"","time":` + tm + `,"tradeId":"1"`
		if tran != "" {
			s += `,"tranId":` + tran
		}
		return s + "}"
	}
	since := time.UnixMilli(1570600000000)
	cases := []struct {
		name, income, positions, want string
	}{
		{"not oldest first", "[" + row("COMMISSION", "-1", "1570636800000", "1") + "," + row("COMMISSION", "-1", "1570608000000", "2") + "]", "[]", "not oldest first"},
		{"before startTime", "[" + row("REALIZED_PNL", "-1", "1570500000000", "1") + "]", "[]", "before the startTime asked"},
		{"no tranId", "[" + row("REALIZED_PNL", "-1", "1570608000000", "") + "]", "[]", "no tranId"},
		{"income not a number", "[" + row("FUNDING_FEE", "1e", "1570608000000", "1") + "]", "[]", `income "1e"`},
		{"income with a plus", "[" + row("FUNDING_FEE", "+1", "1570608000000", "1") + "]", "[]", `income "+1"`},
		{"a position in BNB", "[]", `[{"symbol":"BNBUSDC","positionSide":"BOTH","positionAmt":"1","unRealizedProfit":"-3.5","marginAsset":"BNB"}]`, "not USDT"},
		{"no unRealizedProfit", "[]", `[{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmt":"1","marginAsset":"USDT"}]`, "unRealizedProfit"},
		{"hedge mode", "[]", `[{"symbol":"BTCUSDT","positionSide":"LONG","positionAmt":"1","unRealizedProfit":"1","marginAsset":"USDT"}]`, "hedge mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplay(t, nil)
			r.route("GET /fapi/v1/income", binancereplay.Route{Body: tc.income})
			r.route("GET /fapi/v3/positionRisk", binancereplay.Route{Body: tc.positions})
			_, err := r.c.DayPnL(context.Background(), since)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DayPnL: %v, want an error with %q", err, tc.want)
			}
		})
	}
	// And the same shapes, well formed, are summed.
	r := newReplay(t, nil)
	r.route("GET /fapi/v1/income", binancereplay.Route{Body: "[" + row("REALIZED_PNL", "-12.50000000", "1570608000000", "7") + "," +
		row("COMMISSION", "-0.10000000", "1570608000000", "7") + "," + row("FUNDING_FEE", "0.02000000", "1570608000001", "8") + "]"})
	r.route("GET /fapi/v3/positionRisk", binancereplay.Route{Body: `[{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmt":"1","unRealizedProfit":"-0.42000000","marginAsset":"USDT"}]`})
	got, err := r.c.DayPnL(context.Background(), since)
	if err != nil || got != -13 {
		t.Fatalf("DayPnL %v, %v, want -13", got, err)
	}
}
