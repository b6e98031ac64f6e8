package paper

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// TestStepsRoundDown: Python's str(usd*lev/price) quantities (16-18
// decimals) and str() of small floats execute rounded down to the step,
// never up; orig_qty and OrderState.Qty are the rounded quantity; a
// quantity under one step is -1013 and nothing is stored; without steps the
// strict 8-decimal rule stays (-1102).
func TestStepsRoundDown(t *testing.T) {
	env := redistest.New(t)
	strict := newVenue(t, env, map[string]string{"BTCUSDT": "65000", "SOLUSDT": "150", "PEPEUSDT": "0.00001"})
	v, err := strict.WithSteps(map[string]string{"BTCUSDT": "0.001", "SOLUSDT": "0.1"}, "1")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		sym, qty, want string
		code           int
	}{
		{"BTCUSDT", "0.015384615384615385", "0.015", 0}, // str(100*10/65000)
		{"BTCUSDT", "0.0019999999999999999", "0.001", 0},
		{"BTCUSDT", "1e-05", "", CodeFilterLotSize}, // under one step
		{"BTCUSDT", "0.0009999999999", "", CodeFilterLotSize},
		{"SOLUSDT", "6.666666666666667", "6.6", 0},
		{"SOLUSDT", "2", "2", 0},
		{"PEPEUSDT", "1234567.89", "1234567", 0}, // the fallback step
		{"BTCUSDT", "-1", "", -1102},
		{"BTCUSDT", "1/3", "", -1102},
	} {
		o := marketOrder(fmt.Sprintf("st-%d", i), c.sym, market.Buy, c.qty)
		st, err := v.PlaceOrder(context.Background(), o)
		if c.code != 0 {
			if got := rejectCode(t, err); got != c.code {
				t.Errorf("%s %s: code %d, want %d", c.sym, c.qty, got, c.code)
			}
			if n := env.Client.Exists(context.Background(), v.orderKey(o.ClientOrderID)).Val(); n != 0 {
				t.Errorf("%s %s: a rejected order was stored", c.sym, c.qty)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: %v", c.sym, c.qty, err)
		}
		if st.OrigQty != c.want || st.FilledQty != c.want {
			t.Errorf("%s %s: qty %s filled %s, want %s", c.sym, c.qty, st.OrigQty, st.FilledQty, c.want)
		}
	}
	_, err = strict.PlaceOrder(context.Background(), marketOrder("strict-1", "BTCUSDT", market.Buy, "0.015384615384615385"))
	if got := rejectCode(t, err); got != -1102 {
		t.Errorf("the venue without steps: code %d, want -1102", got)
	}
	if _, err := strict.WithSteps(map[string]string{"BTCUSDT": "0"}, ""); err == nil {
		t.Error("a zero step was accepted")
	}
	if _, _, err := ParseStep("BTCUSDT=0.000000001"); err == nil {
		t.Error("a step of 9 decimals was accepted")
	}
}

// TestStepRoundingNeverUp: for random quantities of up to 18 decimals and
// random steps, the rounded quantity is a whole multiple of the step, at
// most the quantity asked, and less than one step below it (rapid, 100
// cases by default; go test -rapid.checks=N for more). Exact arithmetic
// (big.Rat) is the reference.
func TestStepRoundingNeverUp(t *testing.T) {
	v := &Venue{steps: map[string]int64{}}
	rapid.Check(t, func(rt *rapid.T) {
		step := rapid.Int64Range(1, 10*unit).Draw(rt, "step e8")
		whole := rapid.Int64Range(0, 100_000).Draw(rt, "whole")
		fracDigits := rapid.IntRange(0, 18).Draw(rt, "decimals")
		var frac strings.Builder
		for range fracDigits {
			frac.WriteByte(byte('0' + rapid.IntRange(0, 9).Draw(rt, "digit")))
		}
		qty := fmt.Sprint(whole)
		if fracDigits > 0 {
			qty += "." + frac.String()
		}
		v.fallbackStep = step
		got, rej := v.quantity(marketOrder("x", "BTCUSDT", market.Buy, qty))
		asked, _ := new(big.Rat).SetString(qty)
		askedE8 := new(big.Rat).Mul(asked, big.NewRat(unit, 1))
		floor := new(big.Int).Quo(askedE8.Num(), askedE8.Denom())
		want := new(big.Int).Sub(floor, new(big.Int).Rem(floor, big.NewInt(step)))
		if want.Sign() == 0 {
			if rej == nil || rej.Code != CodeFilterLotSize {
				rt.Fatalf("%s at step %d: got %d, want -1013", qty, step, got)
			}
			return
		}
		if rej != nil || big.NewInt(got).Cmp(want) != 0 {
			rt.Fatalf("%s at step %d: got %d (%v), want %s", qty, step, got, rej, want)
		}
	})
}
