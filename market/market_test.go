package market

import (
	"regexp"
	"testing"

	"pgregory.net/rapid"
)

func TestValidClientOrderID(t *testing.T) {
	re := regexp.MustCompile(`^[\.A-Z\:/a-z0-9_-]{1,36}$`)
	for _, s := range []string{"", "a", "plan-1", "q:abc/def_1.2-3", "x y", "a*b", "ü", "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz01234567890", "a\n", "{a}"} {
		if got, want := ValidClientOrderID(s), re.MatchString(s); got != want {
			t.Errorf("ValidClientOrderID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// TestValidSymbolMatchesRegexp checks the hand-written symbol check against
// the rule it implements, on arbitrary strings.
func TestValidSymbolMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Z0-9]{2,20}$`)
	for _, s := range []string{"", "B", "BTCUSDT", "btcusdt", "BTC-USDT", "ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRSTU", "1000SHIBUSDT", "BTC USDT"} {
		if got, want := ValidSymbol(s), re.MatchString(s); got != want {
			t.Errorf("ValidSymbol(%q) = %v, the regexp says %v", s, got, want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringMatching(`[A-Za-z0-9 _-]{0,24}`).Draw(t, "s")
		if got, want := ValidSymbol(s), re.MatchString(s); got != want {
			t.Fatalf("ValidSymbol(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

// TestClientOrderID: deterministic, valid at the venue, distinct for
// distinct plan ids, and searchable by its prefix.
func TestClientOrderID(t *testing.T) {
	seen := map[string]string{}
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.String().Draw(t, "plan_id")
		c := ClientOrderID(id)
		if c != ClientOrderID(id) {
			t.Fatalf("ClientOrderID(%q) is not deterministic", id)
		}
		if !ValidClientOrderID(c) || len(c) != len(ClientOrderIDPrefix)+32 || c[:3] != ClientOrderIDPrefix {
			t.Fatalf("ClientOrderID(%q) = %q: not a valid prefixed id", id, c)
		}
		if prev, ok := seen[c]; ok && prev != id {
			t.Fatalf("plan ids %q and %q share client order id %q", prev, id, c)
		}
		seen[c] = id
	})
	if got := ClientOrderID("plan-1"); got != "qt-e26d9cd1dae99fe1f83a87da2f873a25" {
		// Fixed so that a change of the derivation, which would make every
		// open record's orders unrecognisable, cannot pass unnoticed.
		t.Errorf("ClientOrderID(plan-1) = %s", got)
	}
}

func TestOpposite(t *testing.T) {
	if Buy.Opposite() != Sell || Sell.Opposite() != Buy {
		t.Fatal("Opposite is wrong")
	}
}
