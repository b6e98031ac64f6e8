package binance

// The day's PnL, for the apply layer's daily loss stop (issue 15).
//
// DayPnL(since) = realized since `since` + unrealized now, in USDT, a loss
// negative, summed exactly in decimal (math/big) from the venue's text:
//
//   - realized: the income history, GET /fapi/v1/income (USER_DATA,
//     weight 30) from startTime = since, all income types in one query,
//     of which these count: REALIZED_PNL (closed trades), COMMISSION
//     (fees), FUNDING_FEE (funding paid or received), INSURANCE_CLEAR
//     (liquidation clearance fee) and DELIVERED_SETTELMENT (a delisted
//     contract settled; Binance's spelling). That is what an operator
//     calls the day's trading loss. Not counted: transfers in or out,
//     bonuses, contest rewards and the rebates (COMMISSION_REBATE,
//     API_REBATE, REFERRAL_KICKBACK, FEE_RETURN, ...): money moved or
//     given back is not trading, and leaving rebates out can only make
//     the loss counted larger, never smaller. A counted row in another
//     asset than USDT (fees paid in BNB, a USDC-margined symbol) cannot
//     be valued in USDT here and is an error: turn the BNB fee discount
//     off on an account under max_daily_loss_usdt.
//   - unrealized: GET /fapi/v3/positionRisk (USER_DATA, weight 5, the
//     endpoint positions are read from), the sum of unRealizedProfit over
//     the positions; one margined in another asset than USDT, or in hedge
//     mode, is an error.
//
// Pages: the rows come oldest first, IncomePageSize (1000) a page; the
// next page starts at the last row's time, inclusive, and skips the rows
// of that millisecond already counted (by incomeType and tranId, unique
// together per the docs), so rows sharing a millisecond across a page
// boundary are neither lost nor counted twice. A full page that adds
// nothing (more than a page of rows in one millisecond), more than
// IncomeMaxPages pages, a row before startTime or out of time order, a
// row without tranId or whose income does not parse: each is an error,
// never a partial sum.
//
// Cache: the figure is reused for PnLTTL (DefaultPnLTTL) from when its
// reads began, for the same since; concurrent callers wait for one read
// instead of each making it. So a refresh costs 35 weight (30 + 5), plus
// 30 per further page, at most once per PnLTTL while entries under the
// loss stop arrive (420 a minute at the default, of 2,400); the figure is
// at most PnLTTL old. An error is not cached: the next call reads again.
// The reads are not urgent for the rate limiter: they serve entries only,
// and an exit never waits for them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the PnL read (Config.PnLTTL, IncomePageSize, IncomeMaxPages).
const (
	DefaultPnLTTL         = 5 * time.Second
	DefaultIncomeMaxPages = 10
	maxIncomePage         = 1000 // the docs' maximum limit of GET /fapi/v1/income
)

// DayIncomeTypes are the income types DayPnL counts as realized (see pnl.go).
var DayIncomeTypes = []string{"REALIZED_PNL", "COMMISSION", "FUNDING_FEE", "INSURANCE_CLEAR", "DELIVERED_SETTELMENT"}

// pnlCache is DayPnL's last figure. sem (one slot) is held while reading,
// so that concurrent callers share one read.
type pnlCache struct {
	sem   chan struct{}
	since time.Time
	at    time.Time // when the read began
	value float64
	ok    bool
}

func newPnLCache() pnlCache { return pnlCache{sem: make(chan struct{}, 1)} }

// DayPnL returns the account's PnL in USDT since `since` (the apply layer
// passes 00:00 UTC): the income counted as realized since then plus the
// unrealized PnL of every position now, cached for Config.PnLTTL. Any
// failure is an error (the apply layer then denies entries under
// max_daily_loss_usdt); it never returns a partial figure.
func (c *Client) DayPnL(ctx context.Context, since time.Time) (float64, error) {
	select {
	case c.pnl.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("binance: day PnL: %w", ctx.Err())
	}
	defer func() { <-c.pnl.sem }()
	now := c.cfg.Now()
	if age := now.Sub(c.pnl.at); c.pnl.ok && c.pnl.since.Equal(since) && age >= 0 && age < c.cfg.PnLTTL {
		return c.pnl.value, nil
	}
	c.pnl.ok = false
	realized, err := c.realizedSince(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("binance: day PnL: %w", err)
	}
	unrealized, err := c.unrealized(ctx)
	if err != nil {
		return 0, fmt.Errorf("binance: day PnL: %w", err)
	}
	v, _ := new(big.Rat).Add(realized, unrealized).Float64()
	c.pnl.since, c.pnl.at, c.pnl.value, c.pnl.ok = since, now, v, true // sem is never written: waiters read it
	return v, nil
}

// incomeRow is a row of GET /fapi/v1/income.
type incomeRow struct {
	Symbol     string          `json:"symbol"`
	IncomeType string          `json:"incomeType"`
	Income     string          `json:"income"`
	Asset      string          `json:"asset"`
	Time       int64           `json:"time"`
	TranID     json.RawMessage `json:"tranId"` // a number in the USD-M docs, text in others: kept as written
}

// realizedSince sums the counted income since `since`, page by page.
func (c *Client) realizedSince(ctx context.Context, since time.Time) (*big.Rat, error) {
	sum := new(big.Rat)
	start := since.UnixMilli()
	seen := map[string]bool{} // incomeType/tranId of the rows at start already counted
	size := c.cfg.IncomePageSize
	for range c.cfg.IncomeMaxPages {
		p := url.Values{"startTime": {strconv.FormatInt(start, 10)}, "limit": {strconv.Itoa(size)}}
		var rows []incomeRow
		if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/income", signed: true, params: p}, &rows); err != nil {
			return nil, fmt.Errorf("income since %s: %w", since.UTC().Format(time.RFC3339), err)
		}
		last, fresh := start, 0
		for i, r := range rows {
			switch {
			case r.Time < start:
				return nil, fmt.Errorf("income row %d at %d is before the startTime asked, %d", i, r.Time, start)
			case r.Time < last:
				return nil, fmt.Errorf("income row %d at %d is before the row above it (%d): the answer is not oldest first", i, r.Time, last)
			}
			if r.Time > last { // the rows remembered are before this one
				last = r.Time
				clear(seen)
			}
			tran := string(bytes.Trim(r.TranID, `"`))
			if tran == "" || tran == "null" {
				return nil, fmt.Errorf("income row %d (%s at %d) has no tranId", i, r.IncomeType, r.Time)
			}
			key := r.IncomeType + "/" + tran
			if seen[key] {
				continue
			}
			seen[key] = true
			fresh++
			if !slices.Contains(DayIncomeTypes, r.IncomeType) {
				continue
			}
			amt, err := parseSignedDecimal(r.Income)
			if err != nil {
				return nil, fmt.Errorf("income row %d (%s at %d): income %q: %w", i, r.IncomeType, r.Time, r.Income, err)
			}
			if r.Asset != "USDT" {
				return nil, fmt.Errorf("income row %d: %s %s %s of %s at %d is not in USDT and cannot be valued: "+
					"the day's PnL counts USDT only (turn the BNB fee discount off)", i, r.IncomeType, r.Income, r.Asset, r.Symbol, r.Time)
			}
			sum.Add(sum, amt)
		}
		if len(rows) < size {
			return sum, nil
		}
		if fresh == 0 {
			return nil, fmt.Errorf("more than %d income rows at %d (one millisecond): they cannot be paged past", size, start)
		}
		// seen now holds the keys of the rows at last (and, when last ==
		// start, those at start from the pages before).
		start = last
	}
	return nil, fmt.Errorf("more than %d pages of %d income rows since %s (the bound of one read): the day's PnL is not read",
		c.cfg.IncomeMaxPages, size, since.UTC().Format(time.RFC3339))
}

// unrealized sums unRealizedProfit over the positions (GET /fapi/v3/positionRisk).
func (c *Client) unrealized(ctx context.Context) (*big.Rat, error) {
	var out []struct {
		Symbol           string `json:"symbol"`
		PositionSide     string `json:"positionSide"`
		UnRealizedProfit string `json:"unRealizedProfit"`
		MarginAsset      string `json:"marginAsset"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v3/positionRisk", signed: true, params: url.Values{}}, &out); err != nil {
		return nil, fmt.Errorf("unrealized PnL: %w", err)
	}
	sum := new(big.Rat)
	for _, e := range out {
		if e.PositionSide != "BOTH" {
			return nil, fmt.Errorf("unrealized PnL: %s positionSide %s: %w", e.Symbol, e.PositionSide, ErrHedgeMode)
		}
		u, err := parseSignedDecimal(e.UnRealizedProfit)
		if err != nil {
			return nil, fmt.Errorf("unrealized PnL: %s unRealizedProfit %q: %w", e.Symbol, e.UnRealizedProfit, err)
		}
		if e.MarginAsset != "USDT" && u.Sign() != 0 {
			return nil, fmt.Errorf("unrealized PnL: %s is margined in %q, not USDT: it cannot be valued", e.Symbol, e.MarginAsset)
		}
		sum.Add(sum, u)
	}
	return sum, nil
}

// parseSignedDecimal is parseDecimal with an optional leading minus, as
// Binance writes an income or a PnL ("-0.37500000").
func parseSignedDecimal(s string) (*big.Rat, error) {
	neg := strings.HasPrefix(s, "-")
	r, err := parseDecimal(strings.TrimPrefix(s, "-"))
	if err != nil {
		return nil, err
	}
	if neg {
		r.Neg(r)
	}
	return r, nil
}
