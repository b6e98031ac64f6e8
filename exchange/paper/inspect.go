package paper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/market"
)

// OrderRecord is an order as the venue stores it: the exchange.OrderState
// plus what the request said. Each comment starts with the field names
// of the Redis hash.
type OrderRecord struct {
	exchange.OrderState                  // client_order_id order_id symbol side status executed_qty avg_price orig_qty (the quantity taken, canonical decimal)
	Type                market.OrderType // type
	Price               string           // price: the LIMIT price; "0" for MARKET
	ReduceOnly          bool             // reduce_only
	Leverage            int              // leverage: the symbol's leverage when placed
	Time                time.Time        // time_ms: when placed, by the placing process's clock
}

// PositionState is one symbol's position as the venue stores it.
type PositionState struct {
	Symbol     string
	Amount     string // signed, canonical decimal; "0" when flat
	EntryPrice string // "0" when flat
	Leverage   int
}

func parseRecord(h map[string]string) (OrderRecord, error) {
	lev, err1 := strconv.Atoi(h["leverage"])
	ms, err2 := strconv.ParseInt(h["time_ms"], 10, 64)
	ro, err3 := strconv.ParseBool(h["reduce_only"])
	if h["client_order_id"] == "" || h["order_id"] == "" || err1 != nil || err2 != nil || err3 != nil {
		return OrderRecord{}, fmt.Errorf("corrupt order record %v", h)
	}
	return OrderRecord{
		OrderState: exchange.OrderState{
			ClientOrderID:   h["client_order_id"],
			ExchangeOrderID: h["order_id"],
			Symbol:          h["symbol"],
			Side:            market.Side(h["side"]),
			Status:          exchange.Status(h["status"]),
			FilledQty:       h["executed_qty"],
			AvgPrice:        h["avg_price"],
			OrigQty:         h["orig_qty"],
		},
		Type:       market.OrderType(h["type"]),
		Price:      h["price"],
		ReduceOnly: ro,
		Leverage:   lev,
		Time:       time.UnixMilli(ms),
	}, nil
}

// Orders returns every order the venue holds (placed within the
// retention), oldest (lowest order id) first. It reads the index and then
// the orders (two round trips), so it is a snapshot only when no order is
// being placed: for tests, `quantum dev` and operators. An order whose hash
// expired between the two reads is left out.
func (v *Venue) Orders(ctx context.Context) ([]OrderRecord, error) {
	ids, err := v.rdb.ZRange(ctx, v.ordersKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("paper: orders: %w: %w", exchange.ErrUnavailable, err)
	}
	return v.read(ctx, ids)
}

// read returns the orders of ids that are still held, by order id.
func (v *Venue) read(ctx context.Context, ids []string) ([]OrderRecord, error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, v.orderKey(id))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("paper: orders: %w: %w", exchange.ErrUnavailable, err)
	}
	out := make([]OrderRecord, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue // expired after the index was read (or before its entry left it)
		}
		rec, err := parseRecord(c.Val())
		if err != nil {
			return nil, fmt.Errorf("paper: order %s: %w", ids[i], err)
		}
		out = append(out, rec)
	}
	// The index is by placement time, by each placing process's clock:
	// the order id is the venue's own sequence.
	slices.SortFunc(out, func(a, b OrderRecord) int {
		x, _ := strconv.ParseInt(a.ExchangeOrderID, 10, 64)
		y, _ := strconv.ParseInt(b.ExchangeOrderID, 10, 64)
		return cmp.Compare(x, y)
	})
	return out, nil
}

// Positions returns every symbol the venue has traded or set a leverage
// for, sorted by symbol, flat ones included. Like Orders, it is a snapshot
// only when nothing is being placed.
func (v *Venue) Positions(ctx context.Context) ([]PositionState, error) {
	syms, err := v.rdb.SMembers(ctx, v.symbolsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("paper: positions: %w: %w", exchange.ErrUnavailable, err)
	}
	slices.Sort(syms)
	cmds := make([]*redis.SliceCmd, len(syms))
	if _, err := v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range syms {
			cmds[i] = p.HMGet(ctx, v.positionKey(s), "amount", "entry_price", "leverage")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("paper: positions: %w: %w", exchange.ErrUnavailable, err)
	}
	out := make([]PositionState, len(syms))
	for i, c := range cmds {
		f := c.Val()
		p := PositionState{Symbol: syms[i], Amount: "0", EntryPrice: "0", Leverage: DefaultLeverage}
		if s, ok := f[0].(string); ok {
			p.Amount = s
		}
		if s, ok := f[1].(string); ok {
			p.EntryPrice = s
		}
		if s, ok := f[2].(string); ok {
			if p.Leverage, err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("paper: position %s: corrupt leverage %q: %w", syms[i], s, err)
			}
		}
		out[i] = p
	}
	return out, nil
}

// Reset deletes every key of the venue (orders, positions, leverage, the
// order id counter, the marks moved at run time, today's realized PnL). It is not atomic: call it only while nothing trades on
// the venue (tests, `quantum dev` before a run).
func (v *Venue) Reset(ctx context.Context) error {
	ids, err := v.rdb.ZRange(ctx, v.ordersKey(), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("paper: reset: %w: %w", exchange.ErrUnavailable, err)
	}
	syms, err := v.rdb.SMembers(ctx, v.symbolsKey()).Result()
	if err != nil {
		return fmt.Errorf("paper: reset: %w: %w", exchange.ErrUnavailable, err)
	}
	del := []string{v.ordersKey(), v.symbolsKey(), v.seqKey(), marksKey(v.ks), pnlKey(v.ks, time.Now())}
	for _, id := range ids {
		del = append(del, v.orderKey(id))
	}
	for _, s := range syms {
		del = append(del, v.positionKey(s))
	}
	// One DEL per key: in a cluster a multi-key DEL needs one slot, and a
	// pipeline of single DELs is one round trip anyway.
	if _, err := v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range del {
			p.Del(ctx, k)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("paper: reset: %w: %w", exchange.ErrUnavailable, err)
	}
	return nil
}

// PositionAmount returns symbol's stored position amount as decimal text,
// and whether the venue has a record of the symbol at all (a Redis without
// paper venue state, a live deployment's, has none). Read only: for proofs
// and operators, who must not rely on the venue's key layout.
func (v *Venue) PositionAmount(ctx context.Context, symbol string) (amount string, found bool, err error) {
	s, err := v.rdb.HGet(ctx, v.positionKey(symbol), "amount").Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("paper: position %s: %w", symbol, err)
	}
	return s, true, nil
}

// RecentOrders lists the venue's orders in symbol whose client order id
// starts with prefix, placed at or after since, oldest first
// (exchange.OrderHistory, for the reconciliation job). It reads the index
// from since (placement times) and then those orders: orders older than the
// retention are gone, as Binance's order history ends too, so they are
// never listed (and never reported as orphans).
func (v *Venue) RecentOrders(ctx context.Context, symbol, prefix string, since time.Time) ([]exchange.OrderState, error) {
	ids, err := v.rdb.ZRangeByScore(ctx, v.ordersKey(), &redis.ZRangeBy{Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("paper: recent orders: %w: %w", exchange.ErrUnavailable, err)
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return !strings.HasPrefix(id, prefix) })
	all, err := v.read(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []exchange.OrderState
	for _, o := range all {
		if o.Symbol == symbol && !o.Time.Before(since) {
			out = append(out, o.OrderState)
		}
	}
	return out, nil
}

var _ exchange.OrderHistory = (*Venue)(nil)
