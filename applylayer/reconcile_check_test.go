package applylayer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
)

// TestOrphansWriteText: each orphan is one ORPHAN_ORDER line saying
// whether it was new; the all-clear line only when there is none.
func TestOrphansWriteText(t *testing.T) {
	var b strings.Builder
	(&Orphans{Symbols: 3}).WriteText(&b)
	if want := "no orphan: every order of ours in 3 symbol(s) has its record\n"; b.String() != want {
		t.Errorf("clean: %q, want %q", b.String(), want)
	}
	b.Reset()
	(&Orphans{Symbols: 1, Found: []Orphan{
		{OrderState: exchange.OrderState{ClientOrderID: "qt-a", Symbol: "BTCUSDT", Side: "BUY", Status: "FILLED", FilledQty: "1"}, New: true},
		{OrderState: exchange.OrderState{ClientOrderID: "qt-b", Symbol: "BTCUSDT", Side: "SELL", Status: "NEW", FilledQty: "0"}},
	}}).WriteText(&b)
	got := b.String()
	if !strings.Contains(got, "qt-a") || !strings.Contains(got, "new, alerted") || !strings.Contains(got, "recorded before") || strings.Contains(got, "no orphan") {
		t.Errorf("orphans written as %q", got)
	}
	if n := strings.Count(got, "ORPHAN_ORDER"); n != 2 {
		t.Errorf("%d ORPHAN_ORDER lines, want 2:\n%s", n, got)
	}
}

// TestCheckOrphansRefusesVenueWithoutHistory: a venue that cannot list its
// orders is an error before anything is read or written, never "no orphan".
func TestCheckOrphansRefusesVenueWithoutHistory(t *testing.T) {
	_, err := CheckOrphans(context.Background(), CheckOptions{Venue: nil, Since: time.Hour, Now: time.Now})
	if err == nil || !strings.Contains(err.Error(), "cannot list its recent orders") {
		t.Fatalf("err %v, want the venue refused", err)
	}
}
