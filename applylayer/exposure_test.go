package applylayer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

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

// TestRestingEntryStaysReserved: an entry whose order rests at the venue
// (a LIMIT below the mark: status NEW, no position) keeps its reservation,
// so it still counts toward the gross cap; an order the venue rejects is
// cleared (nothing was placed).
func TestRestingEntryStaysReserved(t *testing.T) {
	env := redistest.New(t)
	w := newWorld(t, env.Client, env.Keys)
	w.publish(func(p *policy.Policy) { p.MaxGrossExposureUSDT = 1000 })
	w.start(nil)
	limit := sign(func() map[string]string {
		f := w.fields("intent_bridge", "BTCUSDT", "BUY", "0.01", false)
		f["type"], f["price"] = "LIMIT", "60000"
		return f
	}())
	r := w.send(limit)
	wantResult(t, r, "EXECUTED", "")
	if r["order_status"] != "NEW" {
		t.Fatalf("the LIMIT below the mark is %s, want resting (NEW)", r["order_status"])
	}
	if got := reserved(t, w); len(got) != 1 {
		t.Fatalf("reservations %v, want the resting entry's", got)
	}
	// 0.2 ETHUSDT (600) beside the resting 650: above 1000.
	wantResult(t, w.send(sign(w.fields("intent_bridge", "ETHUSDT", "BUY", "0.2", false))), "DENIED", reason.GrossExposureExceedsMax)
	// The venue refuses 9 decimal places (-1102): FAILED, and not reserved.
	wantResult(t, w.send(sign(w.fields("intent_bridge", "SOLUSDT", "BUY", "0.000000001", false))), "FAILED", reason.ExchangeRejected)
	if got := reserved(t, w); len(got) != 1 {
		t.Fatalf("reservations %v after a rejected order, want only the resting entry's", got)
	}
}
