package binance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// HedgeMode reports whether the account is in hedge mode (GET
// /fapi/v1/positionSide/dual, "dualSidePosition").
func (c *Client) HedgeMode(ctx context.Context) (bool, error) {
	var out struct {
		Dual *bool `json:"dualSidePosition"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/positionSide/dual", signed: true}, &out); err != nil {
		return false, fmt.Errorf("binance: position mode: %w", err)
	}
	if out.Dual == nil {
		return false, fmt.Errorf("binance: position mode: no dualSidePosition in the answer")
	}
	return *out.Dual, nil
}

// Permissions are what the futures API says about the key's account.
type Permissions struct {
	CanTrade bool     `json:"can_trade"` // GET /fapi/v2/account "canTrade"
	Locked   []string `json:"locked"`    // symbols whose trading is locked (GET /fapi/v1/apiTradingStatus)
	// AccountLocked: the whole account is locked by the quantitative rules
	// (apiTradingStatus's account-wide "ACCOUNT" key, e.g. indicator TMV);
	// AccountIndicators names the locking indicators.
	AccountLocked     bool     `json:"account_locked"`
	AccountIndicators []string `json:"account_indicators,omitempty"`
}

// accountKey is apiTradingStatus's key of the account-wide indicators.
const accountKey = "ACCOUNT"

// Permissions reads whether the key may trade (GET /fapi/v2/account,
// "canTrade": a signed request that succeeds also proves the key, its
// secret and the IP allow-list) and which symbols the quantitative rules
// have locked (GET /fapi/v1/apiTradingStatus, "indicators").
func (c *Client) Permissions(ctx context.Context) (Permissions, error) {
	var acct struct {
		CanTrade *bool `json:"canTrade"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v2/account", signed: true}, &acct); err != nil {
		return Permissions{}, fmt.Errorf("binance: account: %w", err)
	}
	if acct.CanTrade == nil {
		return Permissions{}, fmt.Errorf("binance: account: no canTrade in the answer")
	}
	var status struct {
		Indicators map[string][]struct {
			IsLocked  bool   `json:"isLocked"`
			Indicator string `json:"indicator"`
		} `json:"indicators"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/apiTradingStatus", signed: true}, &status); err != nil {
		return Permissions{}, fmt.Errorf("binance: trading status: %w", err)
	}
	p := Permissions{CanTrade: *acct.CanTrade}
	for sym, inds := range status.Indicators {
		for _, in := range inds {
			if !in.IsLocked {
				continue
			}
			if sym == accountKey {
				p.AccountLocked = true
				p.AccountIndicators = append(p.AccountIndicators, in.Indicator)
				continue
			}
			if !slices.Contains(p.Locked, sym) {
				p.Locked = append(p.Locked, sym)
			}
		}
	}
	slices.Sort(p.Locked)
	return p, nil
}

// Bracket is one notional bracket of a symbol.
type Bracket struct {
	Bracket         int     `json:"bracket"`
	InitialLeverage int     `json:"initialLeverage"`
	NotionalCap     float64 `json:"notionalCap"`
	NotionalFloor   float64 `json:"notionalFloor"`
}

// LeverageBrackets returns the symbol's notional brackets, highest leverage
// first (GET /fapi/v1/leverageBracket?symbol=; the answer is an object or
// a one-element list depending on the venue's version, both are read).
func (c *Client) LeverageBrackets(ctx context.Context, symbol string) ([]Bracket, error) {
	var raw json.RawMessage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/leverageBracket", signed: true,
		params: url.Values{"symbol": {symbol}}}, &raw); err != nil {
		return nil, fmt.Errorf("binance: leverage brackets of %s: %w", symbol, err)
	}
	type entry struct {
		Symbol   string    `json:"symbol"`
		Brackets []Bracket `json:"brackets"`
	}
	entries, err := decodeEither[entry](raw)
	if err != nil {
		return nil, fmt.Errorf("binance: leverage brackets of %s: %w", symbol, err)
	}
	for _, e := range entries {
		if e.Symbol == symbol && len(e.Brackets) > 0 {
			return e.Brackets, nil
		}
	}
	return nil, fmt.Errorf("binance: leverage brackets of %s: none in the answer", symbol)
}
