package applylayer

// Venue reconciliation: the venue's recent orders with our client order id
// prefix (exchange.OrderHistory) are compared with the execution records'
// index (keys.ApplyOrderIndex, written with each record). An order no record
// knows is an orphan: placed by a process whose record was lost (a Redis
// failover that lost acknowledged writes), or by something else using our
// prefix. It is recorded (keys.ApplyOrphan), logged and alerted
// ORPHAN_ORDER once; nothing is ever placed or cancelled here: what to do
// with the position is an operator's call. `quantum reconcile` runs it once;
// the apply layer runs it every ReconcileEvery.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
)

// ReconcileEvery is how often the apply layer reconciles (a variable for
// tests).
var ReconcileEvery = 5 * time.Minute

// TypeOrphanOrder is the alert of a venue order no record knows (SPEC.md).
const TypeOrphanOrder = "ORPHAN_ORDER"

// Orphan is a venue order of ours without an execution record.
type Orphan struct {
	exchange.OrderState
	New bool `json:"new"` // found by this run (false: recorded before)
}

// Reconcile lists each symbol's orders with our prefix placed since (at
// most the record TTL ago: older orders' records have expired) and returns
// those no record knows; new ones are recorded and alerted (alerts may be
// nil). It reads and writes Redis only under ks; it never calls the venue
// but to read.
func Reconcile(ctx context.Context, rdb redis.UniversalClient, ks keys.Space, venue exchange.OrderHistory,
	symbols []string, since time.Time, alerts Alerter, log *slog.Logger) ([]Orphan, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Orders placed before the index existed cannot be judged by it.
	v, err := rdb.Get(ctx, ks.ApplyOrderIndexSince()).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil // no apply layer has indexed anything yet
	case err != nil:
		return nil, fmt.Errorf("reconcile: %w", err)
	case time.Unix(v, 0).After(since):
		since = time.Unix(v, 0)
	}
	var out []Orphan
	for _, sym := range symbols {
		orders, err := venue.RecentOrders(ctx, sym, market.ClientOrderIDPrefix, since)
		if err != nil {
			return out, fmt.Errorf("reconcile %s: recent orders: %w", sym, err)
		}
		if len(orders) == 0 {
			continue
		}
		pipe := rdb.Pipeline()
		known := make([]*redis.IntCmd, len(orders))
		for i, o := range orders {
			known[i] = pipe.Exists(ctx, ks.ApplyOrderIndex(o.ClientOrderID))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return out, fmt.Errorf("reconcile %s: %w", sym, err)
		}
		for i, o := range orders {
			if known[i].Val() == 1 {
				continue
			}
			isNew, err := rdb.HSetNX(ctx, ks.ApplyOrphan(o.ClientOrderID), "found_at", strconv.FormatInt(time.Now().Unix(), 10)).Result()
			if err != nil {
				return out, fmt.Errorf("reconcile: record orphan %s: %w", o.ClientOrderID, err)
			}
			if isNew {
				rdb.HSet(ctx, ks.ApplyOrphan(o.ClientOrderID), "symbol", o.Symbol, "side", string(o.Side), "status", string(o.Status),
					"filled_qty", o.FilledQty, "exchange_order_id", o.ExchangeOrderID)
				log.Error("ORPHAN_ORDER: an order of ours at the venue that no execution record knows; nothing was placed or cancelled",
					"client_order_id", o.ClientOrderID, "symbol", o.Symbol, "side", o.Side, "status", o.Status, "filled_qty", o.FilledQty)
				if alerts != nil {
					alerts.Fire(ctx, alert.Alert{Type: TypeOrphanOrder, Labels: map[string]string{"client_order_id": o.ClientOrderID},
						Severity: alert.SeverityCritical, Count: 1, Window: time.Hour,
						Details: map[string]string{"symbols": o.Symbol, "side": string(o.Side), "order_status": string(o.Status),
							"filled_qty": o.FilledQty, "exchange_order_id": o.ExchangeOrderID}}, 24*time.Hour)
				}
			}
			out = append(out, Orphan{OrderState: o, New: isNew})
		}
	}
	return out, nil
}

// reconcile runs Reconcile when due, in enforce mode, over the policy's
// universe, when the venue can list its orders.
func (s *Service) reconcile(ctx context.Context) {
	hist, ok := s.venue.(exchange.OrderHistory)
	if !ok || s.cfg.Shadow || s.pol.signed == nil || time.Since(s.lastReconcile) < ReconcileEvery {
		return
	}
	s.lastReconcile = time.Now()
	since := s.cfg.Now().Add(-s.cfg.RecordTTL + time.Minute)
	if _, err := Reconcile(ctx, s.rdb, s.cfg.State, hist, s.pol.signed.UniverseSymbols, since, s.cfg.Alerts, s.cfg.Log); err != nil {
		s.cfg.Log.Warn("reconciliation with the venue failed: retried later", "error", err)
	}
}
