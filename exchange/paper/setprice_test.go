package paper

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
)

// TestParsePrices: canonical prices by symbol; a symbol given twice (even
// at the same price) and a bad argument are errors.
func TestParsePrices(t *testing.T) {
	got, err := ParsePrices([]string{"BTCUSDT=65000.50", "ETHUSDT=3000"})
	if err != nil || len(got) != 2 || got["BTCUSDT"] != "65000.5" || got["ETHUSDT"] != "3000" {
		t.Fatalf("ParsePrices: %v, %v", got, err)
	}
	for _, args := range [][]string{{"BTCUSDT=1", "BTCUSDT=1"}, {"BTCUSDT"}, {"BTCUSDT=-1"}, {"btc=1"}} {
		if _, err := ParsePrices(args); err == nil {
			t.Errorf("ParsePrices(%q) accepted", args)
		}
	}
	if _, err := ParsePrices([]string{"BTCUSDT=1", "BTCUSDT=2"}); err == nil || err.Error() != "BTCUSDT given twice" {
		t.Errorf("twice: %v", err)
	}
}

// TestMoveMarks: the marks move for every venue on the Redis, and the
// day's PnL is read after they moved (a long's loss at the new mark); a PnL
// that cannot be read is reported as unknown, never as 0.
func TestMoveMarks(t *testing.T) {
	env := redistest.New(t)
	ctx := context.Background()
	v := newVenue(t, env, map[string]string{"BTCUSDT": "60000"})
	place(t, v, marketOrder("qt-m1", "BTCUSDT", market.Buy, "0.1"))
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	m, err := MoveMarks(ctx, env.Client, env.Keys, map[string]string{"BTCUSDT": "59000"}, func() time.Time { return day })
	if err != nil {
		t.Fatal(err)
	}
	if m.PnLErr != nil || m.PnL != -100 {
		t.Fatalf("day PnL %v (%v), want -100", m.PnL, m.PnLErr)
	}
	if mark, err := newVenue(t, env, nil).MarkPrice(ctx, "BTCUSDT"); err != nil || mark != 59000 {
		t.Fatalf("another venue's mark: %v, %v", mark, err)
	}
	var b bytes.Buffer
	m.WriteText(&b)
	if want := "SYMBOL   MARK\nBTCUSDT  59000\nday PnL (2026-03-04 UTC): -100.00 USDT (realized since 00:00 + unrealized now)\n"; b.String() != want {
		t.Errorf("text:\n%q\nwant\n%q", b.String(), want)
	}
	if j := m.JSON(); j["day"] != "2026-03-04" || j["day_pnl_usdt"] != -100.0 || j["day_pnl_error"] != nil {
		t.Errorf("JSON %v", j)
	}
	m.PnLErr = errors.New("redis down")
	b.Reset()
	m.WriteText(&b)
	if !strings.Contains(b.String(), "day PnL (2026-03-04 UTC): unknown: redis down") || m.JSON()["day_pnl_usdt"] != nil {
		t.Errorf("unknown PnL: %s %v", b.String(), m.JSON())
	}
}
