package paper

// Marks moved at run time and PnL (issue 15).
//
// A mark price starts as configured (New's prices) and can be moved at run
// time by SetPrices (`quantum paper set-price SYMBOL=PRICE ...`), which
// writes P:paper:marks: every venue on the same Redis and prefix (every
// apply-layer replica, the proofs, quantum dev) fills at, and values
// positions at, the moved mark from then on. A symbol neither configured
// nor set has no mark.
//
// Every fill that reduces, closes or flips a position realizes
// |closed| x (fill - entry) (x -1 for a short), added in place.lua to the
// day's P:paper:pnl:<YYYY-MM-DD> (UTC, kept 8 days). DayPnL is that day's
// realized PnL plus the unrealized PnL of every position now,
// amount x (mark - entry). No fees or funding are simulated.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/keys"
)

// pnlDays is how long a day's realized PnL is kept.
const pnlDays = 8

func marksKey(ks keys.Space) string { return ks.Key("paper:marks") }

// pnlKey is the realized PnL of the UTC day of t.
func pnlKey(ks keys.Space, t time.Time) string {
	return ks.Key("paper:pnl:" + t.UTC().Format(time.DateOnly))
}

// SetPrices moves the marks of the paper venue under ks, for every venue
// sharing the Redis: prices maps symbols to canonical decimal text (what
// ParsePrice returns). One HSET: all move at once.
func SetPrices(ctx context.Context, rdb redis.Cmdable, ks keys.Space, prices map[string]string) error {
	if len(prices) == 0 {
		return errors.New("paper: no price to set")
	}
	args := make([]any, 0, 2*len(prices))
	for _, sym := range slices.Sorted(maps.Keys(prices)) {
		p, err := canonicalPrice(sym, prices[sym])
		if err != nil {
			return err
		}
		args = append(args, sym, p)
	}
	if err := rdb.HSet(ctx, marksKey(ks), args...).Err(); err != nil {
		return fmt.Errorf("paper: set prices: %w: %w", exchange.ErrUnavailable, err)
	}
	return nil
}

// markOf returns symbol's mark: the one set at run time, else the
// configured one; ok is false when there is neither.
func (v *Venue) markOf(ctx context.Context, symbol string) (m mark, ok bool, err error) {
	s, err := v.rdb.HGet(ctx, marksKey(v.ks), symbol).Result()
	switch {
	case errors.Is(err, redis.Nil):
		m, ok = v.marks[symbol]
		return m, ok, nil
	case err != nil:
		return mark{}, false, fmt.Errorf("paper: mark %s: %w: %w", symbol, exchange.ErrUnavailable, err)
	}
	n, perr := parseE8(s)
	if perr != nil || n <= 0 {
		return mark{}, false, fmt.Errorf("paper: mark %s: corrupt %q in %s", symbol, s, marksKey(v.ks))
	}
	return mark{text: formatE8(n), e8: n}, true, nil
}

// Marks returns every symbol's mark as decimal text: configured, moved by
// SetPrices where set.
func (v *Venue) Marks(ctx context.Context) (map[string]string, error) {
	set, err := v.rdb.HGetAll(ctx, marksKey(v.ks)).Result()
	if err != nil {
		return nil, fmt.Errorf("paper: marks: %w: %w", exchange.ErrUnavailable, err)
	}
	out := make(map[string]string, len(v.marks)+len(set))
	for sym, m := range v.marks {
		out[sym] = m.text
	}
	maps.Copy(out, set)
	return out, nil
}

// DayPnL returns the account's PnL in USDT for the UTC day of since:
// realized on that day plus unrealized now (every position at its mark).
// A position without a mark is an error: its PnL cannot be told.
func (v *Venue) DayPnL(ctx context.Context, since time.Time) (float64, error) {
	realizedText, err := v.rdb.HGet(ctx, pnlKey(v.ks, since), "realized").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("paper: realized PnL: %w: %w", exchange.ErrUnavailable, err)
	}
	realized := 0.0
	if realizedText != "" {
		if realized, err = strconv.ParseFloat(realizedText, 64); err != nil {
			return 0, fmt.Errorf("paper: corrupt realized PnL %q: %w", realizedText, err)
		}
	}
	unrealized, err := v.Unrealized(ctx)
	if err != nil {
		return 0, err
	}
	return realized + unrealized, nil
}

// Unrealized returns the unrealized PnL of every position at its mark now.
func (v *Venue) Unrealized(ctx context.Context) (float64, error) {
	positions, err := v.Positions(ctx)
	if err != nil {
		return 0, err
	}
	marks, err := v.Marks(ctx)
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, p := range positions {
		amt, err1 := strconv.ParseFloat(p.Amount, 64)
		entry, err2 := strconv.ParseFloat(p.EntryPrice, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("paper: position %s: corrupt amount %q or entry %q", p.Symbol, p.Amount, p.EntryPrice)
		}
		if amt == 0 {
			continue
		}
		m, ok := marks[p.Symbol]
		if !ok {
			return 0, fmt.Errorf("paper: position %s has no mark price: its PnL cannot be told", p.Symbol)
		}
		mark, err := strconv.ParseFloat(m, 64)
		if err != nil {
			return 0, fmt.Errorf("paper: corrupt mark %q for %s", m, p.Symbol)
		}
		total += amt * (mark - entry)
	}
	return total, nil
}
