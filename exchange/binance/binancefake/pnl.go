package binancefake

// PnL: entry prices, realized PnL and commission per fill, the income
// history (GET /fapi/v1/income) and unrealized PnL at the mark.
//
// Positions follow Binance's one-way mode: a fill that adds to a position
// (or opens one) moves the entry price to the quantity-weighted average of
// the old entry and the fill; a fill that reduces it realizes
// (fill - entry) x closed quantity x the position's sign and keeps the
// entry; a fill that flips it realizes the closed part and opens the rest
// at the fill price. Each fill that realizes writes a REALIZED_PNL row,
// and with SetCommission each fill writes a COMMISSION row of
// -|qty| x price x rate (both in USDT, with the fill's trade id; the two
// rows of one fill share a tranId, which the docs allow: "tranId is unique
// in the same incomeType"). Funding, transfers and the rest are added by a
// test with AddIncome. The unrealized PnL of a position is
// amount x (mark - entry), in GET /fapi/v3/positionRisk's unRealizedProfit
// and GET /fapi/v2/account's totalUnrealizedProfit.

import (
	"maps"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// incomeRow is one row of the income history.
type incomeRow struct {
	symbol, typ, asset, info, tradeID string
	income                            *big.Rat
	time                              int64 // unix ms of the fake's clock
	tranID                            int64
}

// Income is a row of the income history a test adds (AddIncome).
type Income struct {
	Symbol  string    // "" for a row of no symbol (a transfer)
	Type    string    // REALIZED_PNL, COMMISSION, FUNDING_FEE, TRANSFER, ...
	Amount  string    // signed decimal text, e.g. "-0.375"
	Asset   string    // default USDT
	Time    time.Time // default the fake's clock now
	TradeID string
}

// SetCommission sets the taker commission rate charged on every fill from
// now on ("0.0005" is 0.05%); "" or "0" charges none (the default).
func (f *Fake) SetCommission(rate string) {
	r, ok := rat(rate)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok || r.Sign() == 0 {
		f.feeRate = nil
		return
	}
	f.feeRate = r
}

// AddIncome appends rows to the income history (kept in time order).
func (f *Fake) AddIncome(rows ...Income) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range rows {
		amt, ok := new(big.Rat).SetString(in.Amount)
		if !ok {
			panic("binancefake: AddIncome amount " + in.Amount)
		}
		asset := in.Asset
		if asset == "" {
			asset = "USDT"
		}
		at := in.Time
		if at.IsZero() {
			at = f.now()
		}
		f.tranSeq++
		f.addIncome(incomeRow{symbol: in.Symbol, typ: in.Type, asset: asset, info: in.Type, tradeID: in.TradeID,
			income: amt, time: at.UnixMilli(), tranID: 9_000_000_000 + f.tranSeq})
	}
}

// addIncome inserts r after every row at or before its time.
func (f *Fake) addIncome(r incomeRow) {
	i, _ := slices.BinarySearchFunc(f.income, r.time+1, func(e incomeRow, t int64) int {
		if e.time < t {
			return -1
		}
		return 1
	})
	f.income = slices.Insert(f.income, i, r)
}

// EntryPrice returns a symbol's entry price as decimal text ("0" when flat).
func (f *Fake) EntryPrice(symbol string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pos(symbol).Sign() == 0 || f.entries[symbol] == nil {
		return "0"
	}
	return dec(f.entries[symbol])
}

// Realized returns the sum of the REALIZED_PNL rows of a symbol.
func (f *Fake) Realized(symbol string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sum := new(big.Rat)
	for _, r := range f.income {
		if r.symbol == symbol && r.typ == "REALIZED_PNL" {
			sum.Add(sum, r.income)
		}
	}
	return dec(sum)
}

// fill applies a fill of signed quantity q at price to the symbol's
// position, realizing PnL and charging commission as the file comment says.
func (f *Fake) fill(symbol string, q, price *big.Rat) {
	pos := f.pos(symbol)
	entry := f.entries[symbol]
	if entry == nil {
		entry = new(big.Rat)
	}
	after := new(big.Rat).Add(pos, q)
	realized := (*big.Rat)(nil)
	switch {
	case pos.Sign() == 0 || pos.Sign() == q.Sign(): // open or add: average the entry
		absPos, absQ := new(big.Rat).Abs(pos), new(big.Rat).Abs(q)
		entry = new(big.Rat).Quo(new(big.Rat).Add(new(big.Rat).Mul(absPos, entry), new(big.Rat).Mul(absQ, price)),
			new(big.Rat).Add(absPos, absQ))
	default: // reduce, close or flip
		closed := new(big.Rat).Abs(q)
		if absPos := new(big.Rat).Abs(pos); closed.Cmp(absPos) > 0 {
			closed = absPos
		}
		realized = new(big.Rat).Mul(new(big.Rat).Sub(price, entry), closed)
		if pos.Sign() < 0 {
			realized.Neg(realized)
		}
		switch {
		case after.Sign() == 0:
			entry = new(big.Rat)
		case after.Sign() != pos.Sign(): // flipped: the rest opens at the fill
			entry = new(big.Rat).Set(price)
		}
	}
	f.positions[symbol], f.entries[symbol] = after, entry
	f.tranSeq++
	trade := strconv.FormatInt(5_000_000+f.tranSeq, 10)
	now := f.now().UnixMilli()
	tran := 9_000_000_000 + f.tranSeq
	if realized != nil && realized.Sign() != 0 {
		f.addIncome(incomeRow{symbol: symbol, typ: "REALIZED_PNL", asset: "USDT", info: "", tradeID: trade,
			income: realized, time: now, tranID: tran})
	}
	if f.feeRate != nil {
		fee := new(big.Rat).Mul(new(big.Rat).Mul(new(big.Rat).Abs(q), price), f.feeRate)
		f.addIncome(incomeRow{symbol: symbol, typ: "COMMISSION", asset: "USDT", info: "", tradeID: trade,
			income: fee.Neg(fee), time: now, tranID: tran})
	}
}

// unrealized is a symbol's amount x (mark - entry); nil without a mark.
func (f *Fake) unrealized(symbol string) *big.Rat {
	mark, ok := rat(f.symbols[symbol].Mark)
	if !ok {
		return nil
	}
	entry := f.entries[symbol]
	if entry == nil {
		entry = new(big.Rat)
	}
	return new(big.Rat).Mul(f.pos(symbol), new(big.Rat).Sub(mark, entry))
}

// totalUnrealized sums the unrealized PnL of every open position.
func (f *Fake) totalUnrealized() *big.Rat {
	sum := new(big.Rat)
	for _, name := range slices.Sorted(maps.Keys(f.positions)) {
		if u := f.unrealized(name); u != nil {
			sum.Add(sum, u)
		}
	}
	return sum
}

// incomeTypes are the documented values of incomeType.
var incomeTypes = []string{"TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR",
	"REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE", "CONTEST_REWARD", "CROSS_COLLATERAL_TRANSFER",
	"OPTIONS_PREMIUM_FEE", "OPTIONS_SETTLE_PROFIT", "INTERNAL_TRANSFER", "AUTO_EXCHANGE", "DELIVERED_SETTELMENT",
	"COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW", "POSITION_LIMIT_INCREASE_FEE", "STRATEGY_UMFUTURES_TRANSFER",
	"FEE_RETURN", "BFUSD_REWARD"}

// incomeHistory is GET /fapi/v1/income (USER_DATA, weight 30): the rows of
// symbol and incomeType (all when not sent) within [startTime, endTime]
// (both inclusive), ascending by time, at most limit (default 100, at
// most 1000) of them. When more rows match than limit, the answer is the
// first limit from startTime ("startTime + limit"; page N skips N-1
// pages); with neither startTime nor endTime, the last 7 days' most
// recent limit rows.
func (f *Fake) incomeHistory(p url.Values) (any, *venueError) {
	num := func(k string, def int64) (int64, *venueError) { return numParam(p, k, def) }
	limit, verr := limitParam(p, 100)
	if verr != nil {
		return nil, verr
	}
	page, verr := num("page", 1)
	if verr != nil {
		return nil, verr
	}
	if page < 1 {
		return nil, bad(-1130, "Invalid data sent for a parameter: page.")
	}
	typ := p.Get("incomeType")
	if typ != "" && !slices.Contains(incomeTypes, typ) {
		return nil, bad(-1130, "Invalid data sent for a parameter: incomeType.")
	}
	now := f.now().UnixMilli()
	recent := !p.Has("startTime") && !p.Has("endTime")
	start, verr := num("startTime", 0)
	if verr != nil {
		return nil, verr
	}
	end, verr := num("endTime", 1<<62)
	if verr != nil {
		return nil, verr
	}
	if recent {
		start = now - 7*24*time.Hour.Milliseconds()
	}
	if start > end {
		return nil, bad(-1130, "Invalid data sent for a parameter: startTime.")
	}
	var match []incomeRow
	for _, r := range f.income {
		if r.time < start || r.time > end || (p.Get("symbol") != "" && r.symbol != p.Get("symbol")) || (typ != "" && r.typ != typ) {
			continue
		}
		match = append(match, r)
	}
	if recent && int64(len(match)) > limit {
		match = match[int64(len(match))-limit:]
	} else {
		from := min(int64(len(match)), (page-1)*limit)
		match = match[from:min(int64(len(match)), from+limit)]
	}
	out := make([]map[string]any, 0, len(match))
	for _, r := range match {
		out = append(out, map[string]any{"symbol": r.symbol, "incomeType": r.typ, "income": r.income.FloatString(8),
			"asset": r.asset, "info": r.info, "time": r.time, "tranId": r.tranID, "tradeId": r.tradeID})
	}
	return out, nil
}
