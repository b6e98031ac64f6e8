package binance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/texttable"
)

// CheckOptions configures Check, `quantum exchange check`'s go-live
// checklist.
type CheckOptions struct {
	BaseURL   string        // the URL checked, for the report
	MaxOffset time.Duration // the largest acceptable clock offset to the venue
	// Symbols are the symbols to check; when empty, Universe is asked for
	// the live policy's universe and leverages.
	Symbols  []string
	Universe func(ctx context.Context) (*Universe, error)
}

// Universe is the symbols a policy trades and its leverage for each, with
// the policy they come from.
type Universe struct {
	Symbols  []string
	Leverage map[string]int
	Version  string
	Seq      uint64
}

// CheckLine is one line of the checklist.
type CheckLine struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// CheckReport is the checklist: OK when every line passed. The JSON is
// what exchange check --json prints.
type CheckReport struct {
	BaseURL     string      `json:"base_url"`
	Checks      []CheckLine `json:"checks"`
	Environment Environment `json:"environment"`
	OK          bool        `json:"ok"`
}

func (r *CheckReport) add(name string, ok bool, format string, a ...any) {
	r.Checks = append(r.Checks, CheckLine{Name: name, OK: ok, Detail: fmt.Sprintf(format, a...)})
}

// Check runs the checks a trading process depends on against c, in order:
// environment, server_time, api_key, position_mode, (universe), trading_locks,
// then symbol and leverage for each symbol. Nothing is ordered.
func Check(ctx context.Context, c *Client, opt CheckOptions) *CheckReport {
	env := c.Environment()
	r := &CheckReport{BaseURL: opt.BaseURL, Environment: env}
	switch env {
	case EnvLive:
		r.add("environment", true, "live (%s): LIVE, orders are real", opt.BaseURL)
	case EnvOther:
		r.add("environment", true, "other (%s): not a Binance host (a local fake or a proxy)", opt.BaseURL)
	default:
		r.add("environment", true, "%s (%s): no real money", env, opt.BaseURL)
	}

	if off, err := c.SyncTime(ctx); err != nil {
		r.add("server_time", false, "%v", err)
	} else {
		r.add("server_time", time.Duration(math.Abs(float64(off))) <= opt.MaxOffset, "offset %v (max %v)", off, opt.MaxOffset)
	}
	perms, permsErr := c.Permissions(ctx)
	var rej *exchange.Rejected
	switch {
	case errors.As(permsErr, &rej) && rej.Code == CodeRejectedAPIKey:
		r.add("api_key", false, "%v: %s", permsErr, keyRefused(env))
	case permsErr != nil:
		r.add("api_key", false, "%v", permsErr)
	case !perms.CanTrade:
		r.add("api_key", false, "the account answers canTrade=false: enable futures trading for this key")
	default:
		r.add("api_key", true, "signed requests accepted, canTrade=true")
	}
	if dual, err := c.HedgeMode(ctx); err != nil {
		r.add("position_mode", false, "%v", err)
	} else if dual {
		r.add("position_mode", false, "hedge mode: switch the account to one-way mode")
	} else {
		r.add("position_mode", true, "one-way")
	}

	universe, leverage := opt.Symbols, map[string]int{}
	if len(universe) == 0 {
		u, err := opt.Universe(ctx)
		if err != nil {
			r.add("universe", false, "no live policy to take the universe from (or pass --symbols): %v", err)
		} else {
			universe, leverage = u.Symbols, u.Leverage
			r.add("universe", true, "%d symbols from policy %s (seq %d)", len(universe), u.Version, u.Seq)
		}
	}
	if permsErr == nil {
		var locked []string
		for _, s := range perms.Locked {
			if len(universe) == 0 || slices.Contains(universe, s) {
				locked = append(locked, s)
			}
		}
		slices.Sort(locked)
		if perms.AccountLocked {
			locked = append([]string{"ACCOUNT (the whole account: " + strings.Join(perms.AccountIndicators, ",") + "; only reduce-only orders are accepted)"}, locked...)
		}
		r.add("trading_locks", len(locked) == 0, "locked: %s", orNone(locked))
	}
	for _, sym := range universe {
		if err := c.CheckSymbol(ctx, sym); err != nil {
			r.add("symbol "+sym, false, "%v", err)
		} else {
			r.add("symbol "+sym, true, "listed, TRADING, filters read")
		}
		brackets, err := c.LeverageBrackets(ctx, sym)
		if err != nil {
			r.add("leverage "+sym, false, "%v", err)
			continue
		}
		top := 0
		for _, br := range brackets {
			top = max(top, br.InitialLeverage)
		}
		if want, ok := leverage[sym]; ok {
			r.add("leverage "+sym, want <= top, "policy %dx, brackets allow up to %dx", want, top)
		} else {
			r.add("leverage "+sym, true, "brackets allow up to %dx", top)
		}
	}

	r.OK = true
	for _, l := range r.Checks {
		r.OK = r.OK && l.OK
	}
	return r
}

// WriteText writes the checklist as aligned "PASS|FAIL name detail" lines.
func (r *CheckReport) WriteText(w io.Writer) error {
	tw := texttable.New(w)
	for _, l := range r.Checks {
		verdict := "PASS"
		if !l.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", verdict, l.Name, l.Detail)
	}
	return tw.Flush()
}

// keyRefused names what a -2015 on the first signed request usually means.
func keyRefused(env Environment) string {
	return fmt.Sprintf("the %s environment refuses this key (or this host's IP is not in the key's allow-list, or the key lacks futures permission): "+
		"keys work only in the environment that issued them: live keys on fapi.binance.com, demo trading keys on demo-fapi.binance.com, "+
		"testnet keys on testnet.binancefuture.com", env)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}
