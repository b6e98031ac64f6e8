package paper

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/keys"
)

// ParsePrices parses SYMBOL=PRICE arguments (ParsePrice each) into the map
// SetPrices takes; a symbol given twice is an error, never a silent pick.
func ParsePrices(args []string) (map[string]string, error) {
	prices := map[string]string{}
	for _, a := range args {
		sym, price, err := ParsePrice(a)
		if err != nil {
			return nil, err
		}
		if _, dup := prices[sym]; dup {
			return nil, fmt.Errorf("%s given twice", sym)
		}
		prices[sym] = price
	}
	return prices, nil
}

// Moved is what `quantum paper set-price` reports: the marks set and the
// account's PnL of the day since Day, the figure max_daily_loss_usdt is
// checked against (PnLErr when it could not be read).
type Moved struct {
	Marks  map[string]string
	Day    time.Time
	PnL    float64
	PnLErr error
}

// MoveMarks sets the marks (SetPrices) and reads the PnL of the day that
// dayStart returns, once the marks are set. An error means the marks were
// not set; a PnL that cannot be read is in the report.
func MoveMarks(ctx context.Context, rdb redis.Cmdable, ks keys.Space, prices map[string]string, dayStart func() time.Time) (*Moved, error) {
	if err := SetPrices(ctx, rdb, ks, prices); err != nil {
		return nil, err
	}
	v, err := New(rdb, ks, nil)
	if err != nil {
		return nil, err
	}
	m := &Moved{Marks: prices, Day: dayStart()}
	m.PnL, m.PnLErr = v.DayPnL(ctx, m.Day)
	return m, nil
}

// JSON is the report as `--json` prints it.
func (m *Moved) JSON() map[string]any {
	out := map[string]any{"marks": m.Marks, "day": m.Day.Format(time.DateOnly)}
	if m.PnLErr == nil {
		out["day_pnl_usdt"] = m.PnL
	} else {
		out["day_pnl_error"] = m.PnLErr.Error()
	}
	return out
}

// WriteText writes the marks as a table, then the day's PnL line.
func (m *Moved) WriteText(w io.Writer) {
	tw := texttable.New(w)
	fmt.Fprintln(tw, "SYMBOL\tMARK")
	for _, sym := range slices.Sorted(maps.Keys(m.Marks)) {
		fmt.Fprintf(tw, "%s\t%s\n", sym, m.Marks[sym])
	}
	tw.Flush()
	if m.PnLErr != nil {
		fmt.Fprintf(w, "day PnL (%s UTC): unknown: %v\n", m.Day.Format(time.DateOnly), m.PnLErr)
	} else {
		fmt.Fprintf(w, "day PnL (%s UTC): %.2f USDT (realized since 00:00 + unrealized now)\n", m.Day.Format(time.DateOnly), m.PnL)
	}
}
