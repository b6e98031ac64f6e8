package paper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
)

// step is one order of a scenario, placed on a venue whose BTCUSDT mark is
// mark (venues with different marks share the Redis state, like replicas
// configured at different times), with what it must return and leave.
type step struct {
	mark  string
	order exchange.Order
	// want, when code is 0: the order's status, filled quantity and average price.
	status       exchange.Status
	filled, avg  string
	code         int    // a rejection code, else 0
	amount, entr string // BTCUSDT position after the step
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	env := redistest.New(t)
	venues := map[string]*Venue{}
	for i, s := range steps {
		v := venues[s.mark]
		if v == nil {
			v = newVenue(t, env, map[string]string{"BTCUSDT": s.mark})
			venues[s.mark] = v
		}
		s.order.ClientOrderID = fmt.Sprintf("s%d", i)
		s.order.Symbol = "BTCUSDT"
		st, err := v.PlaceOrder(context.Background(), s.order)
		if s.code != 0 {
			if got := rejectCode(t, err); got != s.code {
				t.Fatalf("step %d: code %d, want %d", i, got, s.code)
			}
			if _, found, err := v.LookupOrder(context.Background(), "BTCUSDT", s.order.ClientOrderID); found || err != nil {
				t.Fatalf("step %d: a rejected order is stored (found=%v, err=%v)", i, found, err)
			}
		} else {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if st.Status != s.status || st.FilledQty != s.filled || st.AvgPrice != s.avg {
				t.Fatalf("step %d: got %s filled %s at %s, want %s filled %s at %s", i, st.Status, st.FilledQty, st.AvgPrice, s.status, s.filled, s.avg)
			}
		}
		if amt, entry := position(t, v, "BTCUSDT"); amt != s.amount || entry != s.entr {
			t.Fatalf("step %d: position %s at %s, want %s at %s", i, amt, entry, s.amount, s.entr)
		}
	}
}

func TestFillsAndEntryPrice(t *testing.T) {
	const F, N = exchange.StatusFilled, exchange.StatusNew
	mkt := func(side market.Side, qty string) exchange.Order { return marketOrder("", "", side, qty) }
	lim := func(side market.Side, qty, price string) exchange.Order { return limitOrder("", "", side, qty, price) }
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"market buy fills at the mark", []step{
			{mark: "65000.5", order: mkt(market.Buy, "0.001"), status: F, filled: "0.001", avg: "65000.5", amount: "0.001", entr: "65000.5"},
		}},
		{"market sell opens a short", []step{
			{mark: "100", order: mkt(market.Sell, "2.5"), status: F, filled: "2.5", avg: "100", amount: "-2.5", entr: "100"},
		}},
		{"quantities are canonicalised", []step{
			{mark: "100", order: mkt(market.Buy, "1e-05"), status: F, filled: "0.00001", avg: "100", amount: "0.00001", entr: "100"},
			{mark: "100", order: mkt(market.Buy, "0.99999000"), status: F, filled: "0.99999", avg: "100", amount: "1", entr: "100"},
		}},
		{"marketable limit buy fills at the mark, not the limit", []step{
			{mark: "100", order: lim(market.Buy, "1", "101"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "100", order: lim(market.Buy, "1", "100.0"), status: F, filled: "1", avg: "100", amount: "2", entr: "100"},
		}},
		{"limit buy below the mark rests", []step{
			{mark: "100", order: lim(market.Buy, "1", "99.99999999"), status: N, filled: "0", avg: "0", amount: "0", entr: "0"},
		}},
		{"marketable limit sell fills at the mark", []step{
			{mark: "100", order: lim(market.Sell, "1", "99"), status: F, filled: "1", avg: "100", amount: "-1", entr: "100"},
			{mark: "100", order: lim(market.Sell, "1", "100"), status: F, filled: "1", avg: "100", amount: "-2", entr: "100"},
		}},
		{"limit sell above the mark rests", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "100", order: lim(market.Sell, "1", "100.00000001"), status: N, filled: "0", avg: "0", amount: "1", entr: "100"},
		}},
		{"weighted average entry on increase", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "200", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "200", amount: "2", entr: "150"},
			{mark: "300", order: mkt(market.Buy, "2"), status: F, filled: "2", avg: "300", amount: "4", entr: "225"},
		}},
		{"weighted average of a short, rounded to 8 places", []step{
			{mark: "100", order: mkt(market.Sell, "1"), status: F, filled: "1", avg: "100", amount: "-1", entr: "100"},
			{mark: "100.00000001", order: mkt(market.Sell, "2"), status: F, filled: "2", avg: "100.00000001", amount: "-3", entr: "100.00000001"},
		}},
		{"entry kept on reduce", []step{
			{mark: "100", order: mkt(market.Buy, "2"), status: F, filled: "2", avg: "100", amount: "2", entr: "100"},
			{mark: "200", order: mkt(market.Sell, "0.5"), status: F, filled: "0.5", avg: "200", amount: "1.5", entr: "100"},
		}},
		{"entry is the fill price after a flip", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "120", order: mkt(market.Sell, "3"), status: F, filled: "3", avg: "120", amount: "-2", entr: "120"},
			{mark: "90", order: mkt(market.Buy, "2.5"), status: F, filled: "2.5", avg: "90", amount: "0.5", entr: "90"},
		}},
		{"entry zero when flat", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "150", order: mkt(market.Sell, "1"), status: F, filled: "1", avg: "150", amount: "0", entr: "0"},
		}},
		{"0.1 + 0.2 - 0.3 is exactly flat", []step{
			{mark: "100", order: mkt(market.Buy, "0.1"), status: F, filled: "0.1", avg: "100", amount: "0.1", entr: "100"},
			{mark: "100", order: mkt(market.Buy, "0.2"), status: F, filled: "0.2", avg: "100", amount: "0.3", entr: "100"},
			{mark: "100", order: mkt(market.Sell, "0.3"), status: F, filled: "0.3", avg: "100", amount: "0", entr: "0"},
		}},
		{"reduce-only with no position: -2022", []step{
			{mark: "100", order: reduceOnly(mkt(market.Sell, "1")), code: exchange.CodeReduceOnlyRejected, amount: "0", entr: "0"},
		}},
		{"reduce-only on the side of a long: -2022", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "100", order: reduceOnly(mkt(market.Buy, "1")), code: exchange.CodeReduceOnlyRejected, amount: "1", entr: "100"},
		}},
		{"reduce-only on the side of a short: -2022", []step{
			{mark: "100", order: mkt(market.Sell, "1"), status: F, filled: "1", avg: "100", amount: "-1", entr: "100"},
			{mark: "100", order: reduceOnly(lim(market.Sell, "1", "50")), code: exchange.CodeReduceOnlyRejected, amount: "-1", entr: "100"},
		}},
		{"reduce-only partly closes, entry kept", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "110", order: reduceOnly(mkt(market.Sell, "0.4")), status: F, filled: "0.4", avg: "110", amount: "0.6", entr: "100"},
		}},
		{"reduce-only above a long closes to flat, never flips", []step{
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "100", order: reduceOnly(mkt(market.Sell, "5")), status: F, filled: "1", avg: "100", amount: "0", entr: "0"},
			{mark: "100", order: reduceOnly(mkt(market.Sell, "1")), code: exchange.CodeReduceOnlyRejected, amount: "0", entr: "0"},
		}},
		{"reduce-only above a short closes to flat, never flips", []step{
			{mark: "100", order: mkt(market.Sell, "0.3"), status: F, filled: "0.3", avg: "100", amount: "-0.3", entr: "100"},
			{mark: "100", order: reduceOnly(lim(market.Buy, "1", "101")), status: F, filled: "0.3", avg: "100", amount: "0", entr: "0"},
		}},
		{"a resting reduce-only limit is checked and does not move the position", []step{
			{mark: "100", order: reduceOnly(lim(market.Sell, "1", "150")), code: exchange.CodeReduceOnlyRejected, amount: "0", entr: "0"},
			{mark: "100", order: mkt(market.Buy, "1"), status: F, filled: "1", avg: "100", amount: "1", entr: "100"},
			{mark: "100", order: reduceOnly(lim(market.Sell, "1", "150")), status: N, filled: "0", avg: "0", amount: "1", entr: "100"},
		}},
		{"the largest position is accepted, one more unit is -2027", []step{
			{mark: "1", order: mkt(market.Sell, "90071992.54740991"), status: F, filled: "90071992.54740991", avg: "1", amount: "-90071992.54740991", entr: "1"},
			{mark: "1", order: mkt(market.Sell, "0.00000001"), code: CodeMaxPosition, amount: "-90071992.54740991", entr: "1"},
			{mark: "1", order: mkt(market.Buy, "90071992.54740991"), status: F, filled: "90071992.54740991", avg: "1", amount: "0", entr: "0"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) { runSteps(t, c.steps) })
	}
}

func TestReduceOnlyCapKeepsWhatWasAsked(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	place(t, v, marketOrder("open", "ETHUSDT", market.Sell, "0.7"))
	place(t, v, reduceOnly(marketOrder("close", "ETHUSDT", market.Buy, "2")))
	recs := orders(t, v)
	if len(recs) != 2 {
		t.Fatalf("%d orders, want 2", len(recs))
	}
	r := recs[1]
	if r.ClientOrderID != "close" || r.OrigQty != "2" || r.FilledQty != "0.7" || !r.ReduceOnly || r.Status != exchange.StatusFilled {
		t.Fatalf("record %+v: want orig 2, filled 0.7, reduce-only, FILLED", r)
	}
}

func TestRejects(t *testing.T) {
	ok := marketOrder("ok-1", "BTCUSDT", market.Buy, "0.01")
	with := func(f func(*exchange.Order)) exchange.Order { o := ok; f(&o); return o }
	for _, c := range []struct {
		name  string
		order exchange.Order
		code  int
	}{
		{"unknown symbol", with(func(o *exchange.Order) { o.Symbol = "XRPUSDT" }), exchange.CodeInvalidSymbol},
		{"empty symbol", with(func(o *exchange.Order) { o.Symbol = "" }), exchange.CodeInvalidSymbol},
		{"lower-case symbol", with(func(o *exchange.Order) { o.Symbol = "btcusdt" }), exchange.CodeInvalidSymbol},
		{"zero quantity", with(func(o *exchange.Order) { o.Qty = "0" }), exchange.CodeBadParameter},
		{"zero quantity, many zeros", with(func(o *exchange.Order) { o.Qty = "0.000000000" }), exchange.CodeBadParameter},
		{"negative quantity", with(func(o *exchange.Order) { o.Qty = "-1" }), exchange.CodeBadParameter},
		{"empty quantity", with(func(o *exchange.Order) { o.Qty = "" }), exchange.CodeBadParameter},
		{"word quantity", with(func(o *exchange.Order) { o.Qty = "one" }), exchange.CodeBadParameter},
		{"NaN quantity", with(func(o *exchange.Order) { o.Qty = "NaN" }), exchange.CodeBadParameter},
		{"quantity below 1e-8", with(func(o *exchange.Order) { o.Qty = "0.000000001" }), exchange.CodeBadParameter},
		{"quantity too large", with(func(o *exchange.Order) { o.Qty = "1e9" }), exchange.CodeBadParameter},
		{"quantity with a space", with(func(o *exchange.Order) { o.Qty = " 1" }), exchange.CodeBadParameter},
		{"lower-case side", with(func(o *exchange.Order) { o.Side = "buy" }), exchange.CodeBadParameter},
		{"empty side", with(func(o *exchange.Order) { o.Side = "" }), exchange.CodeBadParameter},
		{"unknown type", with(func(o *exchange.Order) { o.Type = "STOP_MARKET" }), exchange.CodeBadParameter},
		{"empty type", with(func(o *exchange.Order) { o.Type = "" }), exchange.CodeBadParameter},
		{"limit without price", with(func(o *exchange.Order) { o.Type = market.Limit }), exchange.CodeBadParameter},
		{"limit at price 0", with(func(o *exchange.Order) { o.Type, o.Price = market.Limit, "0" }), exchange.CodeBadParameter},
		{"limit at a negative price", with(func(o *exchange.Order) { o.Type, o.Price = market.Limit, "-1" }), exchange.CodeBadParameter},
		{"limit at a malformed price", with(func(o *exchange.Order) { o.Type, o.Price = market.Limit, "1,5" }), exchange.CodeBadParameter},
		{"empty client order id", with(func(o *exchange.Order) { o.ClientOrderID = "" }), CodeInvalidClientOrderID},
		{"client order id of 37", with(func(o *exchange.Order) { o.ClientOrderID = strings.Repeat("a", 37) }), CodeInvalidClientOrderID},
		{"client order id with a space", with(func(o *exchange.Order) { o.ClientOrderID = "plan 1" }), CodeInvalidClientOrderID},
		{"client order id with a star", with(func(o *exchange.Order) { o.ClientOrderID = "plan*" }), CodeInvalidClientOrderID},
		{"client order id not ASCII", with(func(o *exchange.Order) { o.ClientOrderID = "plän" }), CodeInvalidClientOrderID},
		{"reduce-only with no position", with(func(o *exchange.Order) { o.ReduceOnly = true }), exchange.CodeReduceOnlyRejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := redistest.New(t)
			v := newVenue(t, env, testPrices)
			_, err := v.PlaceOrder(context.Background(), c.order)
			if got := rejectCode(t, err); got != c.code {
				t.Fatalf("code %d, want %d (%v)", got, c.code, err)
			}
			// Nothing stored: no order, no position, no order id used.
			if n := len(orders(t, v)); n != 0 {
				t.Fatalf("%d orders stored after a rejection", n)
			}
			if ps, err := v.Positions(context.Background()); err != nil || len(ps) != 0 {
				t.Fatalf("positions %v, %v after a rejection", ps, err)
			}
			if st := place(t, v, ok); st.ExchangeOrderID != "1" {
				t.Fatalf("next order id %s, want 1: the rejection used an id", st.ExchangeOrderID)
			}
		})
	}
}

func TestDuplicateClientOrderID(t *testing.T) {
	first := marketOrder("plan-1", "BTCUSDT", market.Buy, "0.5")
	for _, c := range []struct {
		name  string
		again exchange.Order
	}{
		{"same request", first},
		{"other side and quantity", marketOrder("plan-1", "BTCUSDT", market.Sell, "3")},
		{"other symbol", marketOrder("plan-1", "ETHUSDT", market.Buy, "1")},
		{"reduce-only that would be rejected", reduceOnly(marketOrder("plan-1", "BTCUSDT", market.Buy, "1"))},
		{"unknown symbol", marketOrder("plan-1", "XRPUSDT", market.Buy, "1")},
		{"malformed quantity", marketOrder("plan-1", "BTCUSDT", market.Buy, "lots")},
		{"resting limit", limitOrder("plan-1", "BTCUSDT", market.Buy, "1", "1")},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := redistest.New(t)
			v := newVenue(t, env, testPrices)
			want := place(t, v, first)
			for range 3 {
				if got := place(t, v, c.again); got != want {
					t.Fatalf("again: %+v, want the stored %+v", got, want)
				}
			}
			if amt, _ := position(t, v, "BTCUSDT"); amt != "0.5" {
				t.Fatalf("BTCUSDT position %s, want 0.5 (one fill)", amt)
			}
			if amt, _ := position(t, v, "ETHUSDT"); amt != "0" {
				t.Fatalf("ETHUSDT position %s, want 0", amt)
			}
			if recs := orders(t, v); len(recs) != 1 || recs[0].OrderState != want {
				t.Fatalf("orders %+v, want only %+v", recs, want)
			}
		})
	}
}

func TestDuplicateOfRestingOrder(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	o := limitOrder("rest-1", "BTCUSDT", market.Buy, "1", "60000")
	want := place(t, v, o)
	if want.Status != exchange.StatusNew {
		t.Fatalf("status %s, want NEW", want.Status)
	}
	o.Price = "70000" // now marketable: must still not fill
	if got := place(t, v, o); got != want {
		t.Fatalf("again: %+v, want %+v", got, want)
	}
	if amt, _ := position(t, v, "BTCUSDT"); amt != "0" {
		t.Fatalf("position %s, want 0", amt)
	}
}

func TestRejectedIDCanBePlacedLater(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	close := reduceOnly(marketOrder("close-1", "BTCUSDT", market.Sell, "1"))
	if _, err := v.PlaceOrder(context.Background(), close); rejectCode(t, err) != exchange.CodeReduceOnlyRejected {
		t.Fatalf("want -2022, got %v", err)
	}
	place(t, v, marketOrder("open-1", "BTCUSDT", market.Buy, "1"))
	if st := place(t, v, close); st.Status != exchange.StatusFilled || st.FilledQty != "1" {
		t.Fatalf("%+v, want FILLED 1", st)
	}
}

func TestOrderIDsCount(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	other := newVenue(t, env, map[string]string{"BTCUSDT": "1"}) // a replica: one counter
	var got []string
	got = append(got, place(t, v, marketOrder("a", "BTCUSDT", market.Buy, "1")).ExchangeOrderID)
	got = append(got, place(t, other, limitOrder("b", "BTCUSDT", market.Sell, "1", "2")).ExchangeOrderID) // rests
	got = append(got, place(t, v, marketOrder("a", "BTCUSDT", market.Buy, "1")).ExchangeOrderID)          // duplicate
	got = append(got, place(t, v, marketOrder("c", "ETHUSDT", market.Sell, "1")).ExchangeOrderID)
	if want := "1 2 1 3"; strings.Join(got, " ") != want {
		t.Fatalf("order ids %v, want %s", got, want)
	}
	var ids []string
	for _, r := range orders(t, v) {
		ids = append(ids, r.ClientOrderID)
	}
	if want := "a b c"; strings.Join(ids, " ") != want {
		t.Fatalf("Orders() %v, want %s in order id order", ids, want)
	}
}

func TestLookupOrder(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	want := place(t, v, marketOrder("plan-9", "ETHUSDT", market.Sell, "0.25"))
	if want != (exchange.OrderState{ClientOrderID: "plan-9", ExchangeOrderID: "1", Symbol: "ETHUSDT", Side: market.Sell, Status: exchange.StatusFilled, FilledQty: "0.25", AvgPrice: "3000", OrigQty: "0.25"}) {
		t.Fatalf("placed %+v", want)
	}
	for _, c := range []struct {
		symbol, id string
		found      bool
	}{
		{"ETHUSDT", "plan-9", true},
		{"BTCUSDT", "plan-9", false}, // held under another symbol, as Binance
		{"ETHUSDT", "plan-8", false},
		{"ETHUSDT", "not valid", false},
	} {
		got, found, err := v.LookupOrder(context.Background(), c.symbol, c.id)
		if err != nil || found != c.found || (found && got != want) {
			t.Errorf("LookupOrder(%s, %s) = %+v, %v, %v; want found=%v", c.symbol, c.id, got, found, err, c.found)
		}
	}
}

func TestLeverage(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	ctx := context.Background()
	for _, c := range []struct {
		symbol   string
		leverage int
		code     int
	}{
		{"BTCUSDT", 0, CodeInvalidLeverage},
		{"BTCUSDT", -1, CodeInvalidLeverage},
		{"BTCUSDT", 126, CodeInvalidLeverage},
		{"XRPUSDT", 10, exchange.CodeInvalidSymbol},
		{"BTCUSDT", 1, 0},
		{"BTCUSDT", 125, 0},
		{"BTCUSDT", 7, 0},
	} {
		err := v.SetLeverage(ctx, c.symbol, c.leverage)
		if c.code == 0 && err != nil {
			t.Fatalf("SetLeverage(%s, %d): %v", c.symbol, c.leverage, err)
		}
		if c.code != 0 && rejectCode(t, err) != c.code {
			t.Fatalf("SetLeverage(%s, %d): %v, want code %d", c.symbol, c.leverage, err, c.code)
		}
	}
	place(t, v, marketOrder("btc-1", "BTCUSDT", market.Buy, "1"))
	place(t, v, marketOrder("eth-1", "ETHUSDT", market.Buy, "1"))
	if err := v.SetLeverage(ctx, "BTCUSDT", 3); err != nil {
		t.Fatal(err)
	}
	place(t, v, marketOrder("btc-2", "BTCUSDT", market.Buy, "1"))
	lev := map[string]int{}
	for _, r := range orders(t, v) {
		lev[r.ClientOrderID] = r.Leverage
	}
	if want := map[string]int{"btc-1": 7, "eth-1": DefaultLeverage, "btc-2": 3}; fmt.Sprint(lev) != fmt.Sprint(want) {
		t.Fatalf("leverage in the records %v, want %v", lev, want)
	}
	ps, err := v.Positions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []PositionState{{"BTCUSDT", "2", "65000.5", 3}, {"ETHUSDT", "1", "3000", DefaultLeverage}}
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Fatalf("Positions() = %+v, want %+v", ps, want)
	}
}

func TestLeverageAloneListsAFlatPosition(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	if err := v.SetLeverage(context.Background(), "ETHUSDT", 5); err != nil {
		t.Fatal(err)
	}
	ps, err := v.Positions(context.Background())
	if err != nil || len(ps) != 1 || ps[0] != (PositionState{"ETHUSDT", "0", "0", 5}) {
		t.Fatalf("Positions() = %+v, %v", ps, err)
	}
	if p, err := v.Position(context.Background(), "ETHUSDT"); err != nil || p != 0 {
		t.Fatalf("Position = %v, %v; want 0", p, err)
	}
}

func TestMarkPrice(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, map[string]string{"BTCUSDT": "65000.50", "ETHUSDT": "3e3"})
	for sym, want := range map[string]float64{"BTCUSDT": 65000.5, "ETHUSDT": 3000} {
		if got, err := v.MarkPrice(context.Background(), sym); err != nil || got != want {
			t.Errorf("MarkPrice(%s) = %v, %v; want %v", sym, got, err, want)
		}
	}
	_, err := v.MarkPrice(context.Background(), "XRPUSDT")
	if rejectCode(t, err) != exchange.CodeInvalidSymbol {
		t.Fatalf("MarkPrice(XRPUSDT): %v, want -1121", err)
	}
	if st := place(t, v, marketOrder("m", "BTCUSDT", market.Buy, "1")); st.AvgPrice != "65000.5" {
		t.Fatalf("fill price %s, want the canonical 65000.5", st.AvgPrice)
	}
}

func TestPosition(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	ctx := context.Background()
	place(t, v, marketOrder("a", "BTCUSDT", market.Sell, "0.1"))
	place(t, v, marketOrder("b", "BTCUSDT", market.Sell, "0.2"))
	if p, err := v.Position(ctx, "BTCUSDT"); err != nil || p != -0.3 {
		t.Fatalf("Position(BTCUSDT) = %v, %v; want -0.3", p, err)
	}
	if p, err := v.Position(ctx, "SOLUSDT"); err != nil || p != 0 { // no mark, never traded
		t.Fatalf("Position(SOLUSDT) = %v, %v; want 0", p, err)
	}
	// A position outlives its mark: a venue configured without the symbol still reads it.
	bare := newVenue(t, env, map[string]string{"ETHUSDT": "1"})
	if p, err := bare.Position(ctx, "BTCUSDT"); err != nil || p != -0.3 {
		t.Fatalf("Position(BTCUSDT) without a mark = %v, %v; want -0.3", p, err)
	}
	if _, err := v.Position(ctx, "btc usdt"); rejectCode(t, err) != exchange.CodeInvalidSymbol {
		t.Fatalf("Position(malformed): %v, want -1121", err)
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	env := redistest.New(t)
	for _, prices := range []map[string]string{
		{"BTCUSDT": "0"},
		{"BTCUSDT": "-5"},
		{"BTCUSDT": "abc"},
		{"BTCUSDT": "NaN"},
		{"BTCUSDT": "1", "btc": "1"},
		{"": "1"},
	} {
		if _, err := New(env.Client, env.Keys, prices); err == nil {
			t.Errorf("New(%v) accepted", prices)
		}
	}
	if _, err := New(nil, env.Keys, testPrices); err == nil {
		t.Error("New accepted a nil client")
	}
	if _, err := New(env.Client, keys.Space{}, testPrices); err == nil {
		t.Error("New accepted a zero key space")
	}
	if _, err := New(env.Client, env.Keys, nil); err != nil {
		t.Errorf("New with no prices: %v", err)
	}
}

func TestKeyLayout(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	place(t, v, marketOrder("k-1", "BTCUSDT", market.Buy, "1"))
	got, err := env.Client.Keys(context.Background(), env.Keys.Prefix()+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range []string{"paper:order:k-1", "paper:orders", "paper:position:BTCUSDT", "paper:symbols", "paper:seq"} {
		want[env.Keys.Key(k)] = true
	}
	if len(got) != len(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for _, k := range got {
		if !want[k] {
			t.Fatalf("unexpected key %s (all: %v)", k, got)
		}
	}
}

func TestReset(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, testPrices)
	ctx := context.Background()
	place(t, v, marketOrder("r-1", "BTCUSDT", market.Buy, "1"))
	place(t, v, limitOrder("r-2", "ETHUSDT", market.Buy, "1", "1"))
	if err := v.SetLeverage(ctx, "ETHUSDT", 9); err != nil {
		t.Fatal(err)
	}
	if err := v.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := env.Client.Keys(ctx, env.Keys.Prefix()+":*").Result(); err != nil || len(n) != 0 {
		t.Fatalf("keys left after Reset: %v, %v", n, err)
	}
	if st := place(t, v, marketOrder("r-1", "BTCUSDT", market.Sell, "1")); st.ExchangeOrderID != "1" || st.Side != market.Sell {
		t.Fatalf("after Reset: %+v, want a new order 1", st)
	}
}

func TestRestartKeepsState(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	before := newVenue(t, env, testPrices)
	if err := before.SetLeverage(ctx, "BTCUSDT", 12); err != nil {
		t.Fatal(err)
	}
	placed := place(t, before, marketOrder("p-1", "BTCUSDT", market.Buy, "0.3"))
	place(t, before, marketOrder("p-2", "ETHUSDT", market.Sell, "2"))
	place(t, before, limitOrder("p-3", "ETHUSDT", market.Buy, "1", "10"))
	wantOrders, wantPositions := orders(t, before), fmt.Sprint(mustPositions(t, before))

	// A new process: its own client, the same Redis and prefix.
	c := env.Server.Client()
	defer c.Close()
	after, err := New(c, env.Keys, testPrices)
	if err != nil {
		t.Fatal(err)
	}
	if got := orders(t, after); fmt.Sprint(got) != fmt.Sprint(wantOrders) {
		t.Fatalf("orders after restart %+v, want %+v", got, wantOrders)
	}
	if got := fmt.Sprint(mustPositions(t, after)); got != wantPositions {
		t.Fatalf("positions after restart %s, want %s", got, wantPositions)
	}
	if got, found, err := after.LookupOrder(ctx, "BTCUSDT", "p-1"); err != nil || !found || got != placed {
		t.Fatalf("LookupOrder after restart = %+v, %v, %v", got, found, err)
	}
	if got := place(t, after, marketOrder("p-1", "BTCUSDT", market.Buy, "0.3")); got != placed {
		t.Fatalf("retry after restart %+v, want the stored %+v", got, placed)
	}
	if st := place(t, after, marketOrder("p-4", "BTCUSDT", market.Sell, "0.3")); st.ExchangeOrderID != "4" {
		t.Fatalf("order id after restart %s, want 4", st.ExchangeOrderID)
	}
	if p, err := after.Position(ctx, "BTCUSDT"); err != nil || p != 0 {
		t.Fatalf("Position = %v, %v; want 0", p, err)
	}
}

func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	// No retries, one dial: the default client's retries only make this slow.
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	v, err := New(c, keys.MustNew("down"), testPrices)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := marketOrder("d-1", "BTCUSDT", market.Buy, "1")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v.PlaceOrder(cancelled, o); !errors.Is(err, exchange.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("PlaceOrder with a done context: %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	if _, found, err := v.LookupOrder(ctx, "BTCUSDT", "d-1"); err != nil || found {
		t.Fatalf("a cancelled PlaceOrder placed something: found=%v, err=%v", found, err)
	}

	srv.Stop()
	if _, err := v.PlaceOrder(ctx, o); !errors.Is(err, exchange.ErrUnknownOutcome) || errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("PlaceOrder with Redis down: %v, want ErrUnknownOutcome", err)
	}
	var r *exchange.Rejected
	if _, err := v.PlaceOrder(ctx, marketOrder("d-2", "XRPUSDT", market.Buy, "1")); !errors.Is(err, exchange.ErrUnknownOutcome) || errors.As(err, &r) {
		t.Fatalf("PlaceOrder of an invalid order with Redis down: %v, want ErrUnknownOutcome (a held order would win)", err)
	}
	if _, _, err := v.LookupOrder(ctx, "BTCUSDT", "d-1"); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("LookupOrder: %v, want ErrUnavailable", err)
	}
	if _, err := v.Position(ctx, "BTCUSDT"); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("Position: %v, want ErrUnavailable", err)
	}
	if err := v.SetLeverage(ctx, "BTCUSDT", 5); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("SetLeverage: %v, want ErrUnavailable", err)
	}
	if _, err := v.Orders(ctx); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("Orders: %v, want ErrUnavailable", err)
	}
	if _, err := v.Positions(ctx); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("Positions: %v, want ErrUnavailable", err)
	}
	// Marks can be moved at run time in Redis (SetPrices): without Redis
	// the venue cannot tell the mark, and never falls back to the configured one.
	if p, err := v.MarkPrice(ctx, "BTCUSDT"); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("MarkPrice with Redis down: %v, %v, want ErrUnavailable", p, err)
	}
}

func TestPositionsOf(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, map[string]string{"BTCUSDT": "65000", "ETHUSDT": "3000"})
	place(t, v, marketOrder("a", "BTCUSDT", market.Buy, "0.3"))
	place(t, v, marketOrder("b", "ETHUSDT", market.Sell, "2"))
	got, err := v.PositionsOf(context.Background(), []string{"BTCUSDT", "ETHUSDT", "SOLUSDT"})
	if err != nil {
		t.Fatal(err)
	}
	if got["BTCUSDT"] != 0.3 || got["ETHUSDT"] != -2 || got["SOLUSDT"] != 0 || len(got) != 3 {
		t.Fatalf("PositionsOf = %v", got)
	}
	for _, sym := range []string{"BTCUSDT", "ETHUSDT"} {
		if p, _ := v.Position(context.Background(), sym); p != got[sym] {
			t.Fatalf("%s: PositionsOf %v, Position %v", sym, got[sym], p)
		}
	}
	if _, err := v.PositionsOf(context.Background(), []string{"bad symbol"}); err == nil {
		t.Fatal("a bad symbol was accepted")
	}
}

// TestPositionAmount: the read-only inspector tells "no record" from a
// flat or open position, and reads through a venue made without marks.
func TestPositionAmount(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	v := newVenue(t, env, map[string]string{"BTCUSDT": "65000"})
	reader := newVenue(t, env, nil)
	if _, found, err := reader.PositionAmount(ctx, "BTCUSDT"); err != nil || found {
		t.Fatalf("before any order: found=%v err=%v", found, err)
	}
	if _, err := v.PlaceOrder(ctx, marketOrder("o1", "BTCUSDT", market.Buy, "0.015")); err != nil {
		t.Fatal(err)
	}
	if amt, found, err := reader.PositionAmount(ctx, "BTCUSDT"); err != nil || !found || amt != "0.015" {
		t.Fatalf("after a BUY 0.015: %q found=%v err=%v", amt, found, err)
	}
}
