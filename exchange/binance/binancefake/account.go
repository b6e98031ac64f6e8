package binancefake

// The account endpoints: leverage, positions, permissions, brackets.

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"
)

func (f *Fake) setLeverage(p url.Values) (any, *venueError) {
	s, ok := f.symbols[p.Get("symbol")]
	if !ok {
		return nil, bad(-1121, "Invalid symbol.")
	}
	lev, err := strconv.Atoi(p.Get("leverage"))
	if err != nil || lev < 1 || lev > s.MaxLeverage {
		return nil, bad(-4028, "Leverage %s is not valid", p.Get("leverage"))
	}
	f.leverage[s.Name] = lev
	return map[string]any{"leverage": lev, "maxNotionalValue": "1000000", "symbol": s.Name}, nil
}

func (f *Fake) positionRisk(p url.Values) (any, *venueError) {
	out := []map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(f.positions)) {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		amt := f.positions[name]
		if amt.Sign() == 0 {
			continue
		}
		if f.dual {
			side := "LONG"
			if amt.Sign() < 0 {
				side = "SHORT"
			}
			out = append(out, map[string]any{"symbol": name, "positionSide": side, "positionAmt": dec(amt)})
			continue
		}
		entry, unrealized := "0", "0"
		if e := f.entries[name]; e != nil {
			entry = dec(e)
		}
		if u := f.unrealized(name); u != nil {
			unrealized = u.FloatString(8)
		}
		out = append(out, map[string]any{"symbol": name, "positionSide": "BOTH", "positionAmt": dec(amt),
			"entryPrice": entry, "markPrice": f.symbols[name].Mark, "unRealizedProfit": unrealized, "marginAsset": "USDT"})
	}
	return out, nil
}

func (f *Fake) account(url.Values) (any, *venueError) {
	return map[string]any{"canTrade": f.canTrade, "canDeposit": true, "canWithdraw": false, "totalWalletBalance": "1000",
		"totalUnrealizedProfit": f.totalUnrealized().FloatString(8)}, nil
}

func (f *Fake) tradingStatus(url.Values) (any, *venueError) {
	ind := map[string]any{}
	for sym := range f.locked {
		ind[sym] = []map[string]any{{"isLocked": true, "plannedRecoverTime": f.now().Add(time.Hour).UnixMilli(),
			"indicator": "UFR", "value": 0.99, "triggerValue": 0.99}}
	}
	if f.acctLock {
		ind["ACCOUNT"] = []map[string]any{{"indicator": "TMV", "value": 10, "triggerValue": 1,
			"plannedRecoverTime": f.now().Add(time.Hour).UnixMilli(), "isLocked": true}}
	}
	return map[string]any{"indicators": ind, "updateTime": f.now().UnixMilli()}, nil
}

func (f *Fake) leverageBracket(p url.Values) (any, *venueError) {
	var out []map[string]any
	for _, name := range slices.Sorted(maps.Keys(f.symbols)) {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		s := f.symbols[name]
		out = append(out, map[string]any{"symbol": name, "notionalCoef": 1.0, "brackets": []map[string]any{
			{"bracket": 1, "initialLeverage": s.MaxLeverage, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0},
			{"bracket": 2, "initialLeverage": max(1, s.MaxLeverage/2), "notionalCap": 250000, "notionalFloor": 50000, "maintMarginRatio": 0.005, "cum": 50},
		}})
	}
	if len(out) == 0 {
		return nil, bad(-1121, "Invalid symbol.")
	}
	return out, nil
}
