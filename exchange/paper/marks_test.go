package paper

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// TestSetPricesMovesEveryVenue: a mark set at run time is seen by another
// venue on the same Redis (another replica), fills there at the new mark,
// and decides LIMIT marketability; an unconfigured symbol gains a mark.
func TestSetPricesMovesEveryVenue(t *testing.T) {
	env := redistest.New(t)
	a := newVenue(t, env, map[string]string{"BTCUSDT": "65000"})
	b := newVenue(t, env, map[string]string{"BTCUSDT": "65000"})
	ctx := context.Background()
	if err := SetPrices(ctx, env.Client, env.Keys, map[string]string{"BTCUSDT": "60000.50", "ETHUSDT": "3000"}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.MarkPrice(ctx, "BTCUSDT"); err != nil || m != 60000.5 {
		t.Fatalf("the other venue's mark: %v, %v, want 60000.5", m, err)
	}
	if st := place(t, b, marketOrder("m-1", "BTCUSDT", market.Buy, "1")); st.AvgPrice != "60000.5" {
		t.Fatalf("filled at %s, want the moved mark 60000.5", st.AvgPrice)
	}
	// A BUY LIMIT at 61000 is marketable at 60000.5 (it was not at 65000).
	if st := place(t, a, limitOrder("m-2", "BTCUSDT", market.Buy, "1", "61000")); st.Status != "FILLED" {
		t.Fatalf("a marketable LIMIT rests: %+v", st)
	}
	if m, err := a.MarkPrice(ctx, "ETHUSDT"); err != nil || m != 3000 {
		t.Fatalf("a symbol given a mark at run time: %v, %v", m, err)
	}
	for _, bad := range []map[string]string{{"BTCUSDT": "0"}, {"btc": "1"}, {"BTCUSDT": "1.123456789"}, {}} {
		if err := SetPrices(ctx, env.Client, env.Keys, bad); err == nil {
			t.Errorf("SetPrices(%v) accepted", bad)
		}
	}
	if m, _ := a.MarkPrice(ctx, "BTCUSDT"); m != 60000.5 {
		t.Fatalf("a refused SetPrices moved the mark to %v", m)
	}
	if err := a.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := a.MarkPrice(ctx, "BTCUSDT"); m != 65000 {
		t.Fatalf("after Reset the mark is %v, want the configured 65000", m)
	}
}

// TestDayPnL: fills that reduce, close or flip realize PnL (long and
// short), increases do not; unrealized follows the mark; the day is UTC.
func TestDayPnL(t *testing.T) {
	env := redistest.New(t)
	v := newVenue(t, env, map[string]string{"BTCUSDT": "100", "ETHUSDT": "10"})
	ctx := context.Background()
	set := func(sym, price string) {
		t.Helper()
		if err := SetPrices(ctx, env.Client, env.Keys, map[string]string{sym: price}); err != nil {
			t.Fatal(err)
		}
	}
	pnl := func(want float64) {
		t.Helper()
		got, err := v.DayPnL(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-9 {
			t.Fatalf("DayPnL = %v, want %v", got, want)
		}
	}
	place(t, v, marketOrder("p-1", "BTCUSDT", market.Buy, "2")) // long 2 @ 100
	pnl(0)
	set("BTCUSDT", "90")
	pnl(-20) // unrealized 2 x (90 - 100)
	place(t, v, marketOrder("p-2", "BTCUSDT", market.Sell, "0.5"))
	pnl(-20)                                                       // realized -5, unrealized 1.5 x -10
	place(t, v, marketOrder("p-3", "BTCUSDT", market.Sell, "3.5")) // closes 1.5 (-15 realized), opens short 2 @ 90
	pnl(-20)
	set("BTCUSDT", "80")
	pnl(0)                                                                  // realized -20, short 2 x (80 - 90) = +20
	place(t, v, reduceOnly(marketOrder("p-4", "BTCUSDT", market.Buy, "5"))) // closes the short: +20 realized
	pnl(0)
	place(t, v, marketOrder("p-5", "ETHUSDT", market.Sell, "1")) // short 1 @ 10
	set("ETHUSDT", "12")
	pnl(-2)
	realized, err := env.Client.HGet(ctx, env.Keys.Key("paper:pnl:"+time.Now().UTC().Format(time.DateOnly)), "realized:BTCUSDT").Float64()
	if err != nil || math.Abs(realized) > 1e-9 {
		t.Fatalf("BTCUSDT realized %v (%v), want 0 (-5 -15 +20)", realized, err)
	}
	if got, err := v.DayPnL(ctx, time.Now().Add(-48*time.Hour)); err != nil || math.Abs(got-(-2)) > 1e-9 {
		t.Fatalf("two days ago: %v, %v, want only the unrealized -2", got, err)
	}
}
