package applylayer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// TestAccountReservationIsReadFailClosed attacks the account reservation
// hash the way someone with Redis access, or a lost clear, would: a
// reserved entry of another symbol counts toward the gross cap; one older
// than the record TTL no longer does; a field that does not parse denies
// every entry (EXCHANGE_UNAVAILABLE) rather than being skipped; the owner's
// close passes through all of it.
func TestAccountReservationIsReadFailClosed(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.publish(func(p *policy.Policy) { p.MaxGrossExposureUSDT = 1000 })
	w.start(nil)
	ctx := context.Background()
	key := env.Keys.ApplyExposure()
	reserve := func(field, value string) {
		t.Helper()
		if err := env.Client.HSet(ctx, key, field, value).Err(); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UnixMilli()
	// 0.2 ETHUSDT at 3000 reserved: 600, and 0.01 BTCUSDT at 65000 is 650.
	reserve("f:ghost", "ETHUSDT 0.2 "+strconv.FormatInt(now, 10))
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.GrossExposureExceedsMax)
	reserve("f:ghost", "ETHUSDT 0.2 "+strconv.FormatInt(now-25*time.Hour.Milliseconds(), 10))
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "EXECUTED", "")
	reserve("f:bad", "ETHUSDT lots")
	wantResult(t, w.send(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "1", false))), "DENIED", reason.ExchangeUnavailable)
	wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))), "EXECUTED", "")
	if pos := w.position("BTCUSDT"); pos != 0 {
		t.Fatalf("BTCUSDT position %v after the owner's close", pos)
	}
}

// TestNonOwnerLimitNeverRests: an entry's LIMIT below the mark is sent
// immediate-or-cancel, expires at once and is FAILED
// EXCHANGE_ORDER_EXPIRED: it never rests (to fill later as an exit), and its
// reservation is cleared; so is an order the venue rejects. (It replaces
// TestRestingEntryStaysReserved: a non-owner's entry can no longer rest.)
func TestNonOwnerLimitNeverRests(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.publish(func(p *policy.Policy) { p.MaxGrossExposureUSDT = 1000 })
	w.start(nil)
	// A non-owner's LIMIT is sent immediate-or-cancel (it may never rest and
	// fill later as an exit): below the mark it expires, nothing filled,
	// FAILED, and its reservation is gone.
	limit := sign(func() map[string]string {
		f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
		f["type"], f["price"] = "LIMIT", "60000"
		return f
	}())
	r := w.send(limit)
	wantResult(t, r, "FAILED", reason.ExchangeOrderExpired)
	if r["order_status"] != "EXPIRED" {
		t.Fatalf("the IOC LIMIT below the mark is %s, want EXPIRED", r["order_status"])
	}
	if got := reserved(t, w); len(got) != 0 {
		t.Fatalf("reservations %v, want none: the entry expired", got)
	}
	// 0.2 ETHUSDT (600): within 1000 now that nothing rests.
	wantResult(t, w.send(sign(w.fields("intent_bridge", "ETHUSDT", "BUY", "0.2", false))), "EXECUTED", "")
	// The venue refuses 9 decimal places (-1102): FAILED, and not reserved.
	wantResult(t, w.send(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "0.000000001", false))), "FAILED", reason.ExchangeRejected)
	if got := reserved(t, w); len(got) != 0 {
		t.Fatalf("reservations %v after a rejected order, want none", got)
	}
}

// TestExitsNeverReadTheAccount: under a gross cap and a loss stop, the
// owner's close reads its own symbol only: the other symbols' positions and
// marks are down (they would deny an entry EXCHANGE_UNAVAILABLE) and the
// close still executes without a single read of them; an entry on the same
// venue is denied on the unread account.
func TestExitsNeverReadTheAccount(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.publish(func(p *policy.Policy) {
		p.MaxGrossExposureUSDT = 100000
		p.UniverseSymbols = []string{"BTCUSDT", "ETHUSDT", "SOLUSDT"}
	})
	v := flatVenue()
	v.PositionFunc = func(_ context.Context, sym string) (float64, error) {
		if sym == "BTCUSDT" {
			return 0.01, nil
		}
		return 0, exchange.ErrUnavailable
	}
	v.PlaceOrderFunc = func(_ context.Context, o exchange.Order) (exchange.OrderState, error) { return filled(o), nil }
	w.startOn(v, nil)
	wantResult(t, w.send(sign(w.fields("exitbrain_v3_5", "BTCUSDT", "SELL", "0.01", true))), "EXECUTED", "")
	for _, c := range v.Calls() {
		if c.Symbol != "BTCUSDT" {
			t.Fatalf("the owner's close read %s of %s: exits must not read the account (calls %+v)", c.Method, c.Symbol, v.Calls())
		}
	}
	wantResult(t, w.send(sign(w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false))), "DENIED", reason.ExchangeUnavailable)
}
