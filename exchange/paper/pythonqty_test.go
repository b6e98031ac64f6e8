package paper

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

// pyStr is Python's str() of a float (its shortest repr): the shortest
// digits that read back as x, in plain decimal with at least one decimal
// place when the decimal exponent is in [-4, 16), else in exponent
// notation with a sign and at least two exponent digits ("1e-05",
// "1.5384615384615385e-05", "1e+16"). TestPyStrIsPythons checks it
// against the real interpreter.
func pyStr(x float64) string {
	e := strconv.FormatFloat(x, 'e', -1, 64)
	_, exp, _ := strings.Cut(e, "e")
	if n, _ := strconv.Atoi(exp); n < -4 || n >= 16 {
		return e
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pythonFloats draws the floats producers format: intent_bridge's
// position_usd * leverage / price, any positive finite double (subnormals
// included), and powers of ten over the whole range a quantity can take.
func pythonFloats() *rapid.Generator[float64] {
	return rapid.Custom(func(t *rapid.T) float64 {
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			usd := rapid.Float64Range(1, 100_000).Draw(t, "position_usd")
			lev := float64(rapid.IntRange(1, 125).Draw(t, "leverage"))
			price := math.Pow(10, rapid.Float64Range(-6, 5).Draw(t, "log10 price"))
			return usd * lev / price
		case 1:
			bits := rapid.Uint64Range(1, math.Float64bits(math.MaxFloat64)).Draw(t, "bits")
			return math.Float64frombits(bits)
		default:
			return math.Pow(10, rapid.Float64Range(-22, 21).Draw(t, "log10 qty"))
		}
	})
}

// TestPyStrIsPythons: pyStr writes what /usr/bin/python3's str() writes,
// for 3000 floats of every kind pythonFloats draws (passed as float.hex,
// exact both ways).
func TestPyStrIsPythons(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found: this test compares with Python's own str(). Install it: apt-get install -y python3 (%v)", python, err)
	}
	r := rand.New(rand.NewPCG(13, 7))
	var xs []float64
	for range 1000 {
		xs = append(xs, 100*(1+99*r.Float64())*float64(1+r.IntN(125))/math.Pow(10, -6+11*r.Float64()))
		xs = append(xs, math.Float64frombits(1+r.Uint64N(math.Float64bits(math.MaxFloat64))))
		xs = append(xs, math.Pow(10, -22+43*r.Float64()))
	}
	var in strings.Builder
	for _, x := range xs {
		in.WriteString(strconv.FormatFloat(x, 'x', -1, 64) + "\n")
	}
	cmd := exec.Command(python, "-c", "import sys\nfor l in sys.stdin: print(str(float.fromhex(l.strip())))")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(xs) {
		t.Fatalf("python3 printed %d lines for %d floats", len(lines), len(xs))
	}
	exponents := 0
	for i, x := range xs {
		if got := pyStr(x); got != lines[i] {
			t.Errorf("%v: pyStr %q, Python %q", x, got, lines[i])
		}
		if strings.Contains(lines[i], "e") {
			exponents++
		}
	}
	if exponents < 500 {
		t.Errorf("only %d of %d in exponent notation: the sample misses what it is for", exponents, len(xs))
	}
}

// TestPythonQuantityNeverRoundedUp: for any float Python would format
// (exponent or not), a plan carrying str(x) as its qty either is refused
// at parse for a documented cause (below 1e-18, more than 20 integer
// digits) or reaches the paper venue, on a real Redis, whose order is
// exactly the requested value rounded down to the symbol's step: at most
// the request, a whole multiple of the step, less than one step below it;
// the venue refuses it only as under one step (-1013) or too large for it
// (-1102). 100 rapid cases of 4 plans each, 400 orders (go test
// -rapid.checks=N for more); big.Rat of Python's text is the reference.
func TestPythonQuantityNeverRoundedUp(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	steps := []string{"0.00000001", "0.0001", "0.001", "0.01", "0.1", "1", "10", "0.005"}
	n := 0
	var refused, underStep, tooLarge, executed, exponent int
	rapid.Check(t, func(rt *rapid.T) {
		n++
		ks, err := keys.New(fmt.Sprintf("pyqty%d", n))
		if err != nil {
			rt.Fatal(err)
		}
		// One symbol per order: every order opens a position of its own.
		syms := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"}
		base, err := New(env.Client, ks, map[string]string{syms[0]: "65000", syms[1]: "3000", syms[2]: "150", syms[3]: "0.5"})
		if err != nil {
			rt.Fatal(err)
		}
		stepText := rapid.SampledFrom(steps).Draw(rt, "step")
		v, err := base.WithSteps(map[string]string{}, stepText)
		if err != nil {
			rt.Fatal(err)
		}
		step, _ := new(big.Rat).SetString(stepText)
		for i, x := range rapid.SliceOfN(pythonFloats(), 4, 4).Draw(rt, "floats") {
			qty := pyStr(x)
			if strings.Contains(qty, "e") {
				exponent++
			}
			asked, _ := new(big.Rat).SetString(qty)
			p, err := plan.Parse(map[string]string{
				"plan_id": fmt.Sprintf("py-%d-%d", n, i), "decision": "EXECUTE", "symbol": syms[i], "side": "BUY",
				"type": "MARKET", "qty": qty, "source": "intent_bridge", "timestamp": "1780000000",
			})
			if err != nil {
				tiny := asked.Cmp(big.NewRat(1, 1e18)) < 0
				huge := asked.Cmp(new(big.Rat).SetFloat64(1e20)) >= 0
				if reason.CodeOf(err) != reason.PlanInvalid || !tiny && !huge {
					rt.Fatalf("qty %s: %v (only a quantity below 1e-18 or of over 20 digits is refused)", qty, err)
				}
				refused++
				continue
			}
			want := new(big.Rat).Quo(asked, step)
			want.SetInt(new(big.Int).Quo(want.Num(), want.Denom()))
			want.Mul(want, step) // floor(asked / step) × step
			st, err := v.PlaceOrder(ctx, marketOrder(p.ID, syms[i], market.Buy, p.QtyText))
			var rej *exchange.Rejected
			switch {
			case errors.As(err, &rej) && rej.Code == CodeFilterLotSize:
				if want.Sign() != 0 {
					rt.Fatalf("qty %s (sent %s) at step %s: -1013, but it is %s", qty, p.QtyText, stepText, want.FloatString(8))
				}
				underStep++
			case errors.As(err, &rej) && rej.Code == exchange.CodeBadParameter:
				if want.Cmp(big.NewRat(MaxUnits, unit)) <= 0 {
					rt.Fatalf("qty %s (sent %s): refused %v, but %s is within the venue's range", qty, p.QtyText, err, want.FloatString(8))
				}
				tooLarge++
			case err != nil:
				rt.Fatalf("qty %s (sent %s): %v", qty, p.QtyText, err)
			default:
				got, ok := new(big.Rat).SetString(st.OrigQty)
				if !ok || got.Cmp(want) != 0 || got.Cmp(asked) > 0 || !new(big.Rat).Quo(got, step).IsInt() {
					rt.Fatalf("qty %s (sent %s) at step %s: the venue took %s, want %s (never above the request)", qty, p.QtyText, stepText, st.OrigQty, want.FloatString(8))
				}
				executed++
			}
		}
	})
	t.Logf("%d plans: %d in exponent notation; %d refused at parse, %d under one step, %d too large for the venue, %d executed",
		4*n, exponent, refused, underStep, tooLarge, executed)
	if executed < n || exponent < n/2 {
		t.Errorf("only %d of %d plans executed, %d in exponent notation: the sample misses what the test is for", executed, 4*n, exponent)
	}
}
