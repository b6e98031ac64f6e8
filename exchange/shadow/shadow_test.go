package shadow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/exchange/shadow"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestShadowNeverPlaces: over a real paper venue on a real redis-server
// (with a long open), 200 random orders through the shadow answer what the
// paper venue would (rounded quantities, FILLED at the mark, -1013 under a
// step, -1121 without a mark), and the venue's state is byte for byte what
// it was: no order, no position change, no leverage set.
func TestShadowNeverPlaces(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	base, err := paper.New(env.Client, env.Keys, map[string]string{"BTCUSDT": "65000", "SOLUSDT": "150"})
	if err != nil {
		t.Fatal(err)
	}
	real, err := base.WithSteps(paper.DefaultSteps, paper.DefaultStep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := real.PlaceOrder(ctx, exchange.Order{ClientOrderID: "seed", Symbol: "BTCUSDT", Side: market.Buy, Type: market.Market, Qty: "0.5"}); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		keys := env.Client.Keys(ctx, env.Keys.Key("paper:*")).Val()
		slices.Sort(keys)
		out := fmt.Sprint(len(keys))
		for _, k := range keys {
			out += k + fmt.Sprint(env.Client.HGetAll(ctx, k).Val(), env.Client.ZRange(ctx, k, 0, -1).Val(), env.Client.SMembers(ctx, k).Val(), env.Client.Get(ctx, k).Val()) + "\n"
		}
		return out
	}
	before := snapshot()
	v, err := shadow.New(real)
	if err != nil {
		t.Fatal(err)
	}
	qtys := []string{"0.015384615384615385", "0.0004", "2", "0.001"}
	for i := range 200 {
		sym := []string{"BTCUSDT", "SOLUSDT", "ETHUSDT"}[i%3]
		qty := qtys[i%len(qtys)]
		o := exchange.Order{ClientOrderID: fmt.Sprintf("sh-%d", i), Symbol: sym, Side: market.Sell, Type: market.Market, Qty: qty, ReduceOnly: i%2 == 0}
		st, err := v.PlaceOrder(ctx, o)
		want, werr := real.RoundQty(o)
		var rej *exchange.Rejected
		switch {
		case sym == "ETHUSDT":
			if !errors.As(err, &rej) || rej.Code != exchange.CodeInvalidSymbol {
				t.Fatalf("%+v: %v, want -1121", o, err)
			}
		case werr != nil:
			if !errors.As(err, &rej) || rej.Code != paper.CodeFilterLotSize {
				t.Fatalf("%+v: %v, want %v", o, err, werr)
			}
		case err != nil || st.OrigQty != want || st.FilledQty != want || st.Status != exchange.StatusFilled || st.ExchangeOrderID != "":
			t.Fatalf("%+v: %+v %v, want %s FILLED with no exchange order id", o, st, err, want)
		}
		if _, found, _ := v.LookupOrder(ctx, sym, o.ClientOrderID); found {
			t.Fatal("the shadow found an order it never placed")
		}
		if err := v.SetLeverage(ctx, sym, 7); err != nil {
			t.Fatal(err)
		}
	}
	if pos, _ := v.Position(ctx, "BTCUSDT"); pos != 0.5 {
		t.Fatalf("position read %v, want the real 0.5", pos)
	}
	if after := snapshot(); after != before {
		t.Fatalf("the paper venue's state changed under the shadow:\n%s\n%s", before, after)
	}
}

// markOnly is a real venue with reads but no account reads of its own.
type markOnly struct{}

func (markOnly) Position(context.Context, string) (float64, error)  { return 1, nil }
func (markOnly) MarkPrice(context.Context, string) (float64, error) { return 100, nil }

// TestShadowReadsTheAccount: the exposure limits' reads (PositionsOf,
// DayPnL) answer the real venue's figures, so shadow mode decides the loss
// stop on the live account; without them at the venue DayPnL is
// ErrUnavailable (entries denied, as enforce mode would) and PositionsOf
// falls back to Position.
func TestShadowReadsTheAccount(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	real, err := paper.New(env.Client, env.Keys, map[string]string{"BTCUSDT": "100"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := real.PlaceOrder(ctx, exchange.Order{ClientOrderID: "seed", Symbol: "BTCUSDT", Side: market.Buy, Type: market.Market, Qty: "2"}); err != nil {
		t.Fatal(err)
	}
	if err := paper.SetPrices(ctx, env.Client, env.Keys, map[string]string{"BTCUSDT": "90"}); err != nil {
		t.Fatal(err)
	}
	v, err := shadow.New(real)
	if err != nil {
		t.Fatal(err)
	}
	want, err := real.DayPnL(ctx, time.Now())
	if err != nil || want != -20 {
		t.Fatalf("paper DayPnL = %v, %v; want -20", want, err)
	}
	if got, err := v.DayPnL(ctx, time.Now()); err != nil || got != want {
		t.Fatalf("shadow DayPnL = %v, %v; want the venue's %v", got, err, want)
	}
	if got, err := v.PositionsOf(ctx, []string{"BTCUSDT", "ETHUSDT"}); err != nil || got["BTCUSDT"] != 2 || got["ETHUSDT"] != 0 {
		t.Fatalf("shadow PositionsOf = %v, %v", got, err)
	}
	bare, err := shadow.New(markOnly{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.DayPnL(ctx, time.Now()); !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("DayPnL without a venue figure: %v, want ErrUnavailable", err)
	}
	if got, err := bare.PositionsOf(ctx, []string{"X", "Y"}); err != nil || got["X"] != 1 || got["Y"] != 1 {
		t.Fatalf("PositionsOf by Position: %v, %v", got, err)
	}
}
