package binance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/market"
)

// dayPnL reads the rig's DayPnL since since, failing the test on error.
func (r *rig) dayPnL(since time.Time) float64 {
	r.t.Helper()
	v, err := r.c.DayPnL(context.Background(), since)
	if err != nil {
		r.t.Fatalf("DayPnL: %v", err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestDayPnLPositions: the adapter's DayPnL on the fake, through real
// orders, for every way a one-way position moves: open, add (the entry
// averages), partial close (realizes, the entry stays), flip (realizes the
// closed part, the rest opens at the fill), a short's close, commission on
// each fill, and income rows that count (funding) or not (a transfer, a
// rebate). Each case checks the entry price the fake ends with and
// DayPnL = realized since the day began + unrealized at the last mark.
func TestDayPnLPositions(t *testing.T) {
	type step struct {
		mark   string // move the mark first ("" keeps it)
		side   market.Side
		qty    string
		reduce bool
	}
	cases := []struct {
		name    string
		fee     string
		income  []binancefake.Income
		steps   []step
		endMark string
		entry   string
		want    float64
	}{
		{name: "open, then a loss at the mark", steps: []step{{side: market.Buy, qty: "1"}},
			endMark: "64000", entry: "65000", want: -1000},
		{name: "add averages the entry", steps: []step{{side: market.Buy, qty: "1"}, {mark: "66000", side: market.Buy, qty: "1"}},
			endMark: "65000", entry: "65500", want: -1000},
		{name: "partial close realizes, the entry stays", steps: []step{{side: market.Buy, qty: "2"}, {mark: "66000", side: market.Sell, qty: "0.5", reduce: true}},
			endMark: "64000", entry: "65000", want: 500 - 1500},
		{name: "flip realizes the closed part and opens the rest at the fill", steps: []step{{side: market.Buy, qty: "1"}, {mark: "64000", side: market.Sell, qty: "3"}},
			endMark: "64500", entry: "64000", want: -1000 - 1000},
		{name: "a short closed at a profit", steps: []step{{side: market.Sell, qty: "1"}, {mark: "64000", side: market.Buy, qty: "1", reduce: true}},
			endMark: "60000", entry: "0", want: 1000},
		{name: "commission on every fill", fee: "0.0004", steps: []step{{side: market.Buy, qty: "1"}, {mark: "65500", side: market.Sell, qty: "1", reduce: true}},
			endMark: "65500", entry: "0", want: -26 + 500 - 26.2},
		{name: "funding counts; a transfer and a rebate do not", steps: []step{{side: market.Buy, qty: "0.1"}},
			income: []binancefake.Income{
				{Symbol: "BTCUSDT", Type: "FUNDING_FEE", Amount: "-3.5"},
				{Type: "TRANSFER", Amount: "10000"},
				{Symbol: "BTCUSDT", Type: "COMMISSION_REBATE", Amount: "1.25"},
				{Type: "TRANSFER", Amount: "-5", Asset: "BNB"},
			},
			endMark: "65010", entry: "65000", want: -3.5 + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.fake.SetCommission(tc.fee)
			start := time.Now().Add(-time.Minute)
			for i, s := range tc.steps {
				if s.mark != "" {
					r.fake.SetMark("BTCUSDT", s.mark)
				}
				st := r.place(marketOrder(fmt.Sprintf("pnl-%d", i), "BTCUSDT", s.side, s.qty, s.reduce))
				if st.Status != "FILLED" {
					t.Fatalf("step %d: %+v", i, st)
				}
			}
			r.fake.AddIncome(tc.income...)
			r.fake.SetMark("BTCUSDT", tc.endMark)
			if got := r.fake.EntryPrice("BTCUSDT"); got != tc.entry {
				t.Fatalf("entry price %s, want %s", got, tc.entry)
			}
			if got := r.dayPnL(start); !near(got, tc.want) {
				t.Fatalf("DayPnL %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDayPnLPages: more rows than a page are all counted, exactly once:
// 2,500 funding rows at the default page of 1,000 (three requests), the
// same with IncomeMaxPages 2 fails instead of answering a partial sum, and
// real fills paged three rows at a time give the figure one page gives.
func TestDayPnLPages(t *testing.T) {
	r := newRig(t, nil)
	start := time.Now().Add(-time.Hour)
	rows := make([]binancefake.Income, 2500)
	for i := range rows {
		rows[i] = binancefake.Income{Symbol: "ETHUSDT", Type: "FUNDING_FEE", Amount: "-0.01", Time: start.Add(time.Duration(i) * time.Millisecond)}
	}
	r.fake.AddIncome(rows...)
	if got := r.dayPnL(start); !near(got, -25) {
		t.Fatalf("DayPnL over 2,500 rows %v, want -25", got)
	}
	if n := r.fake.Requests("/fapi/v1/income"); n != 3 {
		t.Fatalf("%d income requests for 2,500 rows, want 3", n)
	}
	bounded := r.cfg
	bounded.IncomeMaxPages = 2
	c, err := binance.Open(context.Background(), bounded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DayPnL(context.Background(), start); err == nil || !strings.Contains(err.Error(), "more than 2 pages") {
		t.Fatalf("DayPnL beyond IncomeMaxPages: %v, want an error", err)
	}

	r2 := newRig(t, nil)
	r2.fake.SetCommission("0.0005")
	marks := []string{"65000", "65100", "64900", "65300", "64000", "64800", "65900", "65000", "63000", "66000"}
	sides := []market.Side{market.Buy, market.Sell, market.Sell, market.Buy, market.Buy, market.Sell, market.Sell, market.Buy, market.Buy, market.Sell}
	for i := range marks {
		r2.fake.SetMark("BTCUSDT", marks[i])
		r2.place(marketOrder(fmt.Sprintf("page-%d", i), "BTCUSDT", sides[i], "0.3", false))
		time.Sleep(2 * time.Millisecond) // at most one fill's two rows in a millisecond: fewer than a page of 3
	}
	whole := r2.dayPnL(start)
	small := r2.cfg
	small.IncomePageSize = 3
	c2, err := binance.Open(context.Background(), small)
	if err != nil {
		t.Fatal(err)
	}
	before := r2.fake.Requests("/fapi/v1/income")
	got, err := c2.DayPnL(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got, whole) || whole == 0 {
		t.Fatalf("DayPnL paged by 3: %v, by 1,000: %v", got, whole)
	}
	if pages := r2.fake.Requests("/fapi/v1/income") - before; pages < 6 {
		t.Fatalf("%d pages of 3 for 10 fills (10 commission rows and the realized ones), want at least 6", pages)
	}
}

// TestDayPnLPageBoundaryInOneMillisecond: rows sharing a millisecond cut
// by a page boundary are counted once each (the next page starts at that
// millisecond and skips the rows seen), and more rows in one millisecond
// than a page holds is an error, never a partial sum.
func TestDayPnLPageBoundaryInOneMillisecond(t *testing.T) {
	r := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) { cfg.IncomePageSize = 4 })
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	t1, t2 := t0.Add(time.Millisecond), t0.Add(2*time.Millisecond)
	// Page 1 is a, b, c, d; d and e share t1: starting page 2 past t1 would lose e.
	r.fake.AddIncome(
		binancefake.Income{Type: "FUNDING_FEE", Amount: "-1", Time: t0},
		binancefake.Income{Type: "FUNDING_FEE", Amount: "-2", Time: t0},
		binancefake.Income{Type: "FUNDING_FEE", Amount: "-4", Time: t0},
		binancefake.Income{Type: "FUNDING_FEE", Amount: "-8", Time: t1},
		binancefake.Income{Type: "FUNDING_FEE", Amount: "-16", Time: t1},
		binancefake.Income{Type: "FUNDING_FEE", Amount: "-32", Time: t2},
	)
	if got := r.dayPnL(t0); got != -63 {
		t.Fatalf("DayPnL %v, want -63 (each of six rows once)", got)
	}
	r2 := newRig(t, func(cfg *binance.Config, _ *binancefake.Fake) { cfg.IncomePageSize = 4 })
	for range 5 {
		r2.fake.AddIncome(binancefake.Income{Type: "FUNDING_FEE", Amount: "-1", Time: t1})
	}
	if _, err := r2.c.DayPnL(context.Background(), t0); err == nil || !strings.Contains(err.Error(), "one millisecond") {
		t.Fatalf("five rows in one millisecond, pages of 4: %v, want an error", err)
	}
}

// TestDayPnLSince: startTime is inclusive and nothing before it counts,
// however large.
func TestDayPnLSince(t *testing.T) {
	r := newRig(t, nil)
	since := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	r.fake.AddIncome(
		binancefake.Income{Symbol: "BTCUSDT", Type: "REALIZED_PNL", Amount: "-1000", Time: since.Add(-time.Millisecond)},
		binancefake.Income{Symbol: "BTCUSDT", Type: "REALIZED_PNL", Amount: "-7", Time: since},
		binancefake.Income{Symbol: "BTCUSDT", Type: "COMMISSION", Amount: "-0.25", Time: since.Add(time.Hour)},
	)
	if got := r.dayPnL(since); got != -7.25 {
		t.Fatalf("DayPnL %v, want -7.25", got)
	}
	if got := r.dayPnL(since.Add(-time.Millisecond)); got != -1007.25 {
		t.Fatalf("DayPnL a millisecond earlier %v, want -1007.25", got)
	}
}

// TestDayPnLRefusesWhatItCannotValue: a counted row in BNB, an income
// that does not parse, and an income endpoint that fails are errors; an
// error is not cached (the next read succeeds once the endpoint does).
func TestDayPnLRefusesWhatItCannotValue(t *testing.T) {
	r := newRig(t, nil)
	since := time.Now().Add(-time.Hour)
	r.fake.Inject("/fapi/v1/income", binancefake.Fault{Status: 503, Body: "Service Unavailable"})
	if _, err := r.c.DayPnL(context.Background(), since); err == nil {
		t.Fatal("DayPnL with the income endpoint failing: no error")
	}
	if got := r.dayPnL(since); got != 0 {
		t.Fatalf("DayPnL after the failure %v, want 0 (read again, not the error cached)", got)
	}
	r2 := newRig(t, nil)
	r2.fake.AddIncome(binancefake.Income{Symbol: "BTCUSDT", Type: "COMMISSION", Amount: "-0.001", Asset: "BNB"})
	if _, err := r2.c.DayPnL(context.Background(), since); err == nil || !strings.Contains(err.Error(), "not in USDT") {
		t.Fatalf("a commission in BNB: %v, want an error", err)
	}
}

// TestDayPnLCache: a second read within PnLTTL makes no request (and
// answers the figure read, though the venue's moved); at PnLTTL it reads
// again; another since reads again; 20 callers at once past the TTL make
// one read between them (200 trials). Requests are counted at the fake, on a clock the
// test moves.
func TestDayPnLCache(t *testing.T) {
	var offset atomic.Int64
	base := time.Now()
	clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	const ttl = 3 * time.Second
	r := newRig(t, func(cfg *binance.Config, f *binancefake.Fake) {
		f.SetClock(clock, 0)
		cfg.Now, cfg.PnLTTL = clock, ttl
	})
	since := base.Add(-time.Hour)
	reads := func() (income, positions int) {
		return r.fake.Requests("/fapi/v1/income"), r.fake.Requests("/fapi/v3/positionRisk")
	}
	r.fake.AddIncome(binancefake.Income{Type: "FUNDING_FEE", Amount: "-1", Time: base.Add(-time.Minute)})
	if got := r.dayPnL(since); got != -1 {
		t.Fatalf("first read %v", got)
	}
	if i, p := reads(); i != 1 || p != 1 {
		t.Fatalf("first read: %d income and %d positionRisk requests, want 1 and 1", i, p)
	}
	r.fake.AddIncome(binancefake.Income{Type: "FUNDING_FEE", Amount: "-50", Time: base.Add(-time.Second)})
	offset.Store(int64(ttl - time.Millisecond))
	if got := r.dayPnL(since); got != -1 {
		t.Fatalf("read within the TTL %v, want the cached -1", got)
	}
	if i, p := reads(); i != 1 || p != 1 {
		t.Fatalf("read within the TTL made requests: %d income, %d positionRisk", i, p)
	}
	offset.Store(int64(ttl))
	if got := r.dayPnL(since); got != -51 {
		t.Fatalf("read at the TTL %v, want -51", got)
	}
	if i, p := reads(); i != 2 || p != 2 {
		t.Fatalf("read at the TTL: %d income and %d positionRisk requests, want 2 and 2", i, p)
	}
	if got := r.dayPnL(since.Add(time.Minute)); got != -51 {
		t.Fatalf("another since %v", got)
	}
	if i, _ := reads(); i != 3 {
		t.Fatalf("another since: %d income requests, want 3", i)
	}
	// 200 trials: each moves the clock past the TTL and starts 20 callers
	// at once; exactly one of them reads.
	const trials = 200
	for trial := range trials {
		offset.Store(int64(time.Duration(trial+3) * ttl))
		before, _ := reads()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := r.c.DayPnL(context.Background(), since); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if i, _ := reads(); i != before+1 {
			t.Fatalf("trial %d: 20 concurrent reads past the TTL made %d income requests, want 1", trial, i-before)
		}
	}
}

// TestFakeIncomeEndpoint: the fake's GET /fapi/v1/income as the docs
// define it, requested by hand: signed (no signature -1102, another key
// -2015), limit at most 1000 and a known incomeType (-1130), symbol and
// incomeType filters, startTime and endTime inclusive, oldest first, the
// first `limit` from startTime, and without either time the last 7 days'
// most recent rows.
func TestFakeIncomeEndpoint(t *testing.T) {
	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	defer f.Close()
	now := time.Now()
	t0 := now.Add(-time.Hour).Truncate(time.Millisecond)
	f.AddIncome(
		binancefake.Income{Symbol: "BTCUSDT", Type: "COMMISSION", Amount: "-1", Time: t0.Add(2 * time.Millisecond)},
		binancefake.Income{Symbol: "ETHUSDT", Type: "FUNDING_FEE", Amount: "-2", Time: t0},
		binancefake.Income{Symbol: "BTCUSDT", Type: "REALIZED_PNL", Amount: "3.5", Time: t0.Add(time.Millisecond)},
		binancefake.Income{Type: "TRANSFER", Amount: "100", Time: now.Add(-8 * 24 * time.Hour)},
	)
	get := func(params, key string, sign bool) (int, []map[string]any) {
		t.Helper()
		params += "&timestamp=" + strconv.FormatInt(time.Now().UnixMilli(), 10)
		if sign {
			params = signedParams(params, apiSecret)
		}
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/fapi/v1/income?"+params, nil)
		code, data := rawDo(t, req, key)
		if code != 0 {
			return code, nil
		}
		var rows []map[string]any
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatalf("answer %s: %v", data, err)
		}
		return 0, rows
	}
	ms := func(tm time.Time) string { return strconv.FormatInt(tm.UnixMilli(), 10) }
	for _, tc := range []struct {
		params, key string
		sign        bool
		code        int
	}{
		{"limit=10", apiKey, false, -1102},
		{"limit=10", "another-key", true, -2015},
		{"limit=1001", apiKey, true, -1130},
		{"limit=0", apiKey, true, -1130},
		{"incomeType=PROFIT", apiKey, true, -1130},
		{"fromId=3", apiKey, true, -1104},
	} {
		if code, _ := get(tc.params, tc.key, tc.sign); code != tc.code {
			t.Errorf("%s: code %d, want %d", tc.params, code, tc.code)
		}
	}
	incomes := func(rows []map[string]any) string {
		var out []string
		for _, r := range rows {
			out = append(out, r["income"].(string))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct{ params, want string }{
		{"startTime=" + ms(t0), "-2.00000000 3.50000000 -1.00000000"},
		{"startTime=" + ms(t0) + "&limit=2", "-2.00000000 3.50000000"},
		{"startTime=" + ms(t0.Add(time.Millisecond)) + "&endTime=" + ms(t0.Add(time.Millisecond)), "3.50000000"},
		{"startTime=" + ms(t0) + "&symbol=BTCUSDT", "3.50000000 -1.00000000"},
		{"startTime=" + ms(t0) + "&incomeType=COMMISSION", "-1.00000000"},
		{"startTime=" + ms(now.Add(-9*24*time.Hour)) + "&incomeType=TRANSFER", "100.00000000"},
		{"limit=2", "3.50000000 -1.00000000"}, // no times: the last 7 days, most recent 2, oldest first
	} {
		code, rows := get(tc.params, apiKey, true)
		if code != 0 || incomes(rows) != tc.want {
			t.Errorf("%s: code %d, incomes %q, want %q", tc.params, code, incomes(rows), tc.want)
		}
	}
}
