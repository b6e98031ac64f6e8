package paper

import (
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

func TestParseE8(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil},
		{"1", 100_000_000, nil},
		{"0.001", 100_000, nil},
		{"65000.5", 6_500_050_000_000, nil},
		{"00012.50", 1_250_000_000, nil},
		{"0.00000001", 1, nil},
		{"0.100000000000", 10_000_000, nil}, // zeros past the 8th place are exact
		{"1e-05", 1000, nil},                // Python's str(0.00001)
		{"1.5E+2", 15_000_000_000, nil},
		{"2e0", 200_000_000, nil},
		{"90071992.54740991", MaxUnits, nil},
		{"0.000000001", 0, errPrecision},
		{"1e-9", 0, errPrecision},
		{"1.000000001", 0, errPrecision},
		{"90071992.54740992", 0, errTooLarge},
		{"1e8", 0, errTooLarge},
		{"100000000000000000000000", 0, errTooLarge},
		{"", 0, errNotDecimal},
		{"-1", 0, errNotDecimal},
		{"+1", 0, errNotDecimal},
		{" 1", 0, errNotDecimal},
		{"1 ", 0, errNotDecimal},
		{"1.", 0, errNotDecimal},
		{".5", 0, errNotDecimal},
		{"1..2", 0, errNotDecimal},
		{"1e", 0, errNotDecimal},
		{"e5", 0, errNotDecimal},
		{"1e1000", 0, errNotDecimal},
		{"0x10", 0, errNotDecimal},
		{"1/3", 0, errNotDecimal},
		{"1_000", 0, errNotDecimal},
		{"NaN", 0, errNotDecimal},
		{"Inf", 0, errNotDecimal},
		{"١", 0, errNotDecimal},
	} {
		got, err := parseE8(c.in)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("parseE8(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestFormatE8(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "0.00000001"}, {100_000_000, "1"}, {-150_000_000, "-1.5"},
		{6_500_050_000_000, "65000.5"}, {-30_000_000, "-0.3"}, {MaxUnits, "90071992.54740991"},
	} {
		if got := formatE8(c.in); got != c.want {
			t.Errorf("formatE8(%d) = %q, want %q", c.in, got, c.want)
		}
		if c.in >= 0 {
			if back, err := parseE8(c.want); err != nil || back != c.in {
				t.Errorf("parseE8(formatE8(%d)) = %d, %v", c.in, back, err)
			}
		}
	}
}

var (
	plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	expOf        = regexp.MustCompile(`[eE][-+]?([0-9]+)$`)
)

// FuzzParseE8 checks parseE8 against math/big on the grammar it accepts.
func FuzzParseE8(f *testing.F) {
	for _, s := range []string{"0", "0.1", "1e-05", "65000.5", "90071992.54740991", "0.000000001", "1e8", "-1", "1/3", "1."} {
		f.Add(s)
	}
	scale := big.NewRat(100_000_000, 1)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseE8(s)
		if !plainDecimal.MatchString(s) || len(s) > 64 {
			if err == nil {
				t.Fatalf("parseE8(%q) = %d, want an error", s, n)
			}
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			if err == nil {
				t.Fatalf("parseE8(%q) = %d, big.Rat refuses it", s, n)
			}
			return // exponents big.Rat will not take; parseE8 refused them too
		}
		r.Mul(r, scale)
		switch {
		case err == nil:
			if !r.IsInt() || r.Num().Int64() != n {
				t.Fatalf("parseE8(%q) = %d, want %s", s, n, r.RatString())
			}
		case errors.Is(err, errPrecision):
			if r.IsInt() {
				t.Fatalf("parseE8(%q): %v, but it is %s units", s, err, r.RatString())
			}
		case errors.Is(err, errTooLarge):
			if r.Cmp(big.NewRat(MaxUnits, 1)) <= 0 {
				t.Fatalf("parseE8(%q): %v, but it is %s units", s, err, r.RatString())
			}
		case errors.Is(err, errNotDecimal):
			if e := expOf.FindStringSubmatch(s); e == nil || len(strings.TrimLeft(e[1], "0")) < 3 {
				t.Fatalf("parseE8(%q): %v, but only exponents beyond ±100 are refused", s, err)
			}
		default:
			t.Fatalf("parseE8(%q): unexpected %v", s, err)
		}
	})
}

func TestParsePrice(t *testing.T) {
	for _, c := range []struct {
		in, sym, price string
		ok             bool
	}{
		{"BTCUSDT=65000.5", "BTCUSDT", "65000.5", true},
		{"1000PEPEUSDT=0.01234500", "1000PEPEUSDT", "0.012345", true},
		{"ETHUSDT=3e3", "ETHUSDT", "3000", true},
		{"BTCUSDT", "", "", false},
		{"=1", "", "", false},
		{"btcusdt=1", "", "", false},
		{"B=1", "", "", false},
		{"ABCDEFGHIJKLMNOPQRSTU=1", "", "", false},
		{"BTC-USDT=1", "", "", false},
		{"BTCUSDT=", "", "", false},
		{"BTCUSDT=0", "", "", false},
		{"BTCUSDT=-1", "", "", false},
		{"BTCUSDT=NaN", "", "", false},
		{"BTCUSDT=Inf", "", "", false},
		{"BTCUSDT=1e400", "", "", false},
		{"BTCUSDT=0.000000001", "", "", false},
		{"BTCUSDT=1=2", "", "", false},
	} {
		sym, price, err := ParsePrice(c.in)
		if (err == nil) != c.ok || sym != c.sym || price != c.price {
			t.Errorf("ParsePrice(%q) = %q, %q, %v; want %q, %q, ok=%v", c.in, sym, price, err, c.sym, c.price, c.ok)
		}
	}
}
