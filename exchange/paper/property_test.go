package paper

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
)

// TestPropertyPositionIsSumOfFills places random sequences of orders
// (market and limit, reduce-only or not, repeated ids, quantities such as
// 0.1, 0.2 and 0.3) and checks after every order: the position moved by
// exactly the signed fill; a repeated id changed nothing; a reduce-only
// order was rejected exactly when there was nothing to reduce on its side,
// and otherwise never grew |position| nor flipped it. At the end every
// position is the signed sum of the fills of the orders the venue holds.
func TestPropertyPositionIsSumOfFills(t *testing.T) {
	env := redistest.New(t)
	var run atomic.Int64
	marks := map[string]int64{"BTCUSDT": 100 * unit, "ETHUSDT": 3 * unit}
	prices := map[string]string{}
	for s, m := range marks {
		prices[s] = formatE8(m)
	}
	symbols := []string{"BTCUSDT", "ETHUSDT"}
	qtys := []string{"0.1", "0.2", "0.3", "1", "0.00000001", "2.5", "1e-3"}

	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		ks := keys.MustNew(fmt.Sprintf("%s-p%d", env.Keys.Prefix(), run.Add(1)))
		v, err := New(env.Client, ks, prices)
		if err != nil {
			rt.Fatal(err)
		}
		pos := map[string]int64{}
		placed := map[string]exchange.OrderState{}
		var ids []string
		n := rapid.IntRange(1, 40).Draw(rt, "orders")
		for i := range n {
			id := fmt.Sprintf("o%d", i)
			if len(ids) > 0 && rapid.IntRange(0, 5).Draw(rt, "repeat") == 0 {
				id = rapid.SampledFrom(ids).Draw(rt, "repeated id")
			}
			sym := rapid.SampledFrom(symbols).Draw(rt, "symbol")
			side := rapid.SampledFrom([]market.Side{market.Buy, market.Sell}).Draw(rt, "side")
			var qty string
			if rapid.Bool().Draw(rt, "listed qty") {
				qty = rapid.SampledFrom(qtys).Draw(rt, "qty")
			} else {
				qty = formatE8(rapid.Int64Range(1, 5*unit).Draw(rt, "qty units"))
			}
			o := marketOrder(id, sym, side, qty)
			if rapid.IntRange(0, 3).Draw(rt, "limit") == 0 {
				o.Type = market.Limit
				o.Price = formatE8(marks[sym] + rapid.Int64Range(-unit, unit).Draw(rt, "price offset"))
			}
			o.ReduceOnly = rapid.IntRange(0, 2).Draw(rt, "reduce-only") == 0

			before := pos[sym]
			st, err := v.PlaceOrder(ctx, o)
			after := amountE8(rt, v, sym)
			if held, ok := placed[id]; ok {
				if err != nil || st != held {
					rt.Fatalf("repeated %s: %+v, %v; want the held %+v", id, st, err, held)
				}
				if after != before {
					rt.Fatalf("repeated %s moved %s from %s to %s", id, sym, formatE8(before), formatE8(after))
				}
				continue
			}
			nothing := before == 0 || side == market.Buy && before > 0 || side == market.Sell && before < 0
			var rej *exchange.Rejected
			if errors.As(err, &rej) {
				if !o.ReduceOnly || !nothing || rej.Code != exchange.CodeReduceOnlyRejected {
					rt.Fatalf("%+v rejected (%v) with position %s", o, err, formatE8(before))
				}
				if after != before {
					rt.Fatalf("a rejection moved %s", sym)
				}
				continue
			}
			if err != nil {
				rt.Fatal(err)
			}
			if o.ReduceOnly && nothing {
				rt.Fatalf("%+v accepted with position %s, want -2022", o, formatE8(before))
			}
			placed[id] = st
			ids = append(ids, id)
			fill := signedE8(rt, st.FilledQty)
			if side == market.Sell {
				fill = -fill
			}
			if after != before+fill {
				rt.Fatalf("%s: %s + fill %s = %s, want %s", sym, formatE8(before), formatE8(fill), formatE8(after), formatE8(before+fill))
			}
			if o.ReduceOnly && (abs(after) > abs(before) || after != 0 && (after > 0) != (before > 0)) {
				rt.Fatalf("reduce-only %+v took %s to %s", o, formatE8(before), formatE8(after))
			}
			if want, _ := parseE8(qty); st.Status == exchange.StatusFilled && !o.ReduceOnly && abs(fill) != want {
				rt.Fatalf("%+v filled %s", o, st.FilledQty)
			}
			pos[sym] = after
		}
		recs, err := v.Orders(ctx)
		if err != nil {
			rt.Fatal(err)
		}
		if len(recs) != len(ids) {
			rt.Fatalf("%d orders held, %d placed", len(recs), len(ids))
		}
		sum := map[string]int64{}
		for _, r := range recs {
			sum[r.Symbol] += signedFill(rt, r)
		}
		for _, s := range symbols {
			if got := amountE8(rt, v, s); got != sum[s] {
				rt.Fatalf("%s position %s, fills sum to %s", s, formatE8(got), formatE8(sum[s]))
			}
		}
	})
}

func amountE8(t tb, v *Venue, symbol string) int64 {
	t.Helper()
	amt, _ := position(t, v, symbol)
	return signedE8(t, amt)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
