// Package breakglass is the operator's kill switch: `quantum close` and
// `quantum flatten` (docs/migration.md, the exit path). A close is one
// signed reduceOnly MARKET plan from a break-glass source, sent to the
// live apply layer like any other plan: every gate still applies, and
// nothing here talks to a venue. Each has its own source and key, which the
// apply layer must list in --break-glass with their lines in its keyring.
//
// Every close sent is audited on <prefix>:stream:operator.audit (actor,
// command, source, symbol, side, qty, plan_id, result, timestamp) and
// alerted as MANUAL_EXIT on <prefix>:stream:alerts, once per plan_id: an
// operator's hand on the positions is something the on-call must hear of.
package breakglass

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
)

// The break-glass sources: manual_close signs `quantum close`,
// emergency_stop `quantum flatten`.
const (
	SourceManualClose   = "manual_close"
	SourceEmergencyStop = "emergency_stop"
)

// AlertManualExit is the alert type of an operator's close (SPEC.md).
const AlertManualExit = "MANUAL_EXIT"

// Close is one close to send: SELL closes a long, BUY a short.
type Close struct {
	Symbol, Side, Qty string
}

// Positions returns a close for each open paper position of symbols, or of
// every symbol when symbols is nil (flat ones are left out). The paper
// venue's positions are in Redis; another venue's are not read here.
func Positions(ctx context.Context, rdb redis.Cmdable, k keys.Space, symbols []string) ([]Close, error) {
	v, err := paper.New(rdb, k, nil)
	if err != nil {
		return nil, err
	}
	if symbols == nil {
		ps, err := v.Positions(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the paper venue's positions: %w", err)
		}
		for _, p := range ps {
			symbols = append(symbols, p.Symbol)
		}
	}
	var out []Close
	for _, sym := range symbols {
		if !market.ValidSymbol(sym) {
			return nil, fmt.Errorf("symbol %q: want 2-20 of A-Z and 0-9", sym)
		}
		amount, found, err := v.PositionAmount(ctx, sym)
		if err != nil {
			return nil, fmt.Errorf("read the paper position of %s: %w", sym, err)
		}
		if !found || amount == "0" {
			continue
		}
		side, qty := string(market.Sell), amount
		if strings.HasPrefix(amount, "-") {
			side, qty = string(market.Buy), amount[1:]
		}
		out = append(out, Close{Symbol: sym, Side: side, Qty: qty})
	}
	return out, nil
}

// ErrNoPosition is Single's error when the paper venue has no open
// position of the symbol to take the side or quantity from.
var ErrNoPosition = errors.New("no open position")

// Single is the close of symbol by side and qty; when either is "", it is
// taken from the symbol's open paper position (ErrNoPosition when there is
// none).
func Single(ctx context.Context, rdb redis.Cmdable, k keys.Space, symbol, side, qty string) (Close, error) {
	o := Close{Symbol: symbol, Side: side, Qty: qty}
	if o.Side != "" && o.Qty != "" {
		return o, nil
	}
	found, err := Positions(ctx, rdb, k, []string{symbol})
	if err != nil {
		return o, err
	}
	if len(found) == 0 {
		return o, fmt.Errorf("%s: %w", symbol, ErrNoPosition)
	}
	o.Side = cmp.Or(o.Side, found[0].Side)
	o.Qty = cmp.Or(o.Qty, found[0].Qty)
	return o, nil
}
