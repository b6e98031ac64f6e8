package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policystore"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "exchange check",
		Summary: "go-live checklist of the Binance USD-M account: clock, key, position mode, locks, symbols, leverage brackets",
		Help: `Runs the checks a trading process depends on, against --binance-url with the
API key and secret of QUANTUM_BINANCE_API_KEY / QUANTUM_BINANCE_API_SECRET (or
their _FILE variables, files of mode 0600), and prints one PASS or FAIL line
each:

  environment      which Binance --binance-url reaches: live, testnet, demo (or other: a
                   local fake or a proxy); FAIL only for an unusable URL
  server_time      offset to GET /fapi/v1/time within --max-offset
  api_key          a signed request succeeds and GET /fapi/v2/account says canTrade; a key
                   refused with -2015 is named as possibly a key of another environment
  position_mode    one-way mode (GET /fapi/v1/positionSide/dual), as the adapter requires
  trading_locks    neither the account (the "ACCOUNT" key) nor a symbol of the universe
                   locked by GET /fapi/v1/apiTradingStatus
  symbol SYM       listed and TRADING in exchangeInfo, with filters the adapter applies
  leverage SYM     GET /fapi/v1/leverageBracket allows the policy's leverage

The universe and its leverages come from the live policy (verified with
--pubkey, read from --redis), or from --symbols (then only the brackets are
shown). Nothing is ordered. Exit status: 0 when every check passes, 1
otherwise. docs/binance.md is the operator guide.`,
		Run: runExchangeCheck,
	})
}

// binanceFlags are the adapter's settings, shared by apply-layer and
// exchange check. The key and secret themselves are never flags.
type binanceFlags struct {
	url, keyFile, secretFile string
	timeout                  time.Duration
}

func (b *binanceFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&b.url, "binance-url", cli.EnvOr(getenv, "QUANTUM_BINANCE_URL", binance.TestnetURL),
		"Binance USD-M base `URL`, or an environment name: testnet ("+binance.TestnetURL+", the default), demo ("+
			binance.DemoURL+", keys from Binance demo trading) or live ("+binance.LiveURL+", real orders); an empty value is refused (env QUANTUM_BINANCE_URL)")
	fs.StringVar(&b.keyFile, "binance-key-file", "", "`file` (mode 0600) holding the API key (env "+binance.EnvAPIKeyFile+"; or the key itself in "+binance.EnvAPIKey+")")
	fs.StringVar(&b.secretFile, "binance-secret-file", "", "`file` (mode 0600) holding the API secret (env "+binance.EnvAPISecretFile+"; or the secret itself in "+binance.EnvAPISecret+")")
	fs.DurationVar(&b.timeout, "binance-timeout", binance.DefaultTimeout, "timeout of each Binance request")
}

func (b *binanceFlags) config(c *cli.Invocation) (binance.Config, error) {
	creds, err := binance.LoadCredentials(c.Env.Getenv, b.keyFile, b.secretFile)
	if err != nil {
		return binance.Config{}, err
	}
	return binance.Config{BaseURL: binance.ResolveURL(b.url), Credentials: creds, Timeout: b.timeout, Now: c.Env.Clock(), Log: c.Logger()}, nil
}

// keyRefused names what a -2015 on the first signed request usually means.
func keyRefused(env binance.Environment) string {
	return fmt.Sprintf("the %s environment refuses this key (or this host's IP is not in the key's allow-list, or the key lacks futures permission): "+
		"keys work only in the environment that issued them: live keys on fapi.binance.com, demo trading keys on demo-fapi.binance.com, "+
		"testnet keys on testnet.binancefuture.com", env)
}

// checkLine is one line of the checklist.
type checkLine struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func runExchangeCheck(ctx context.Context, c *cli.Invocation) int {
	var b binanceFlags
	b.register(c.FS, c.Env.Getenv)
	asJSON := c.FS.Bool("json", false, "print the checklist as JSON")
	symbols := c.FS.String("symbols", "", "check these `symbols` (comma-separated) instead of the live policy's universe")
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted policy public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	maxOffset := c.FS.Duration("max-offset", time.Second, "largest acceptable offset between this clock and the venue's")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	cfg, err := b.config(c)
	if err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum %s: %v\n", c.Cmd.Name, err)
		return cli.ExitUsage
	}
	client, err := binance.New(cfg)
	if err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum %s: %v\n", c.Cmd.Name, err)
		return cli.ExitUsage
	}
	var lines []checkLine
	add := func(name string, ok bool, format string, a ...any) {
		lines = append(lines, checkLine{Name: name, OK: ok, Detail: fmt.Sprintf(format, a...)})
	}
	env := client.Environment()
	switch env {
	case binance.EnvLive:
		add("environment", true, "live (%s): LIVE, orders are real", cfg.BaseURL)
	case binance.EnvOther:
		add("environment", true, "other (%s): not a Binance host (a local fake or a proxy)", cfg.BaseURL)
	default:
		add("environment", true, "%s (%s): no real money", env, cfg.BaseURL)
	}

	if off, err := client.SyncTime(ctx); err != nil {
		add("server_time", false, "%v", err)
	} else {
		add("server_time", time.Duration(math.Abs(float64(off))) <= *maxOffset, "offset %v (max %v)", off, *maxOffset)
	}
	perms, permsErr := client.Permissions(ctx)
	var rej *exchange.Rejected
	switch {
	case errors.As(permsErr, &rej) && rej.Code == binance.CodeRejectedAPIKey:
		add("api_key", false, "%v: %s", permsErr, keyRefused(env))
	case permsErr != nil:
		add("api_key", false, "%v", permsErr)
	case !perms.CanTrade:
		add("api_key", false, "the account answers canTrade=false: enable futures trading for this key")
	default:
		add("api_key", true, "signed requests accepted, canTrade=true")
	}
	if dual, err := client.HedgeMode(ctx); err != nil {
		add("position_mode", false, "%v", err)
	} else if dual {
		add("position_mode", false, "hedge mode: switch the account to one-way mode")
	} else {
		add("position_mode", true, "one-way")
	}

	universe, leverage := secretfile.SplitList(*symbols), map[string]int{}
	if len(universe) == 0 {
		sp, err := loadVerified(ctx, c, *pubkeys, policystore.DefaultClockSkew)
		if err != nil {
			add("universe", false, "no live policy to take the universe from (or pass --symbols): %v", err)
		} else {
			universe, leverage = sp.UniverseSymbols, sp.LeverageBySymbol
			add("universe", true, "%d symbols from policy %s (seq %d)", len(universe), sp.Version, sp.Seq)
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
		add("trading_locks", len(locked) == 0, "locked: %s", orNone(locked))
	}
	for _, sym := range universe {
		if err := client.CheckSymbol(ctx, sym); err != nil {
			add("symbol "+sym, false, "%v", err)
		} else {
			add("symbol "+sym, true, "listed, TRADING, filters read")
		}
		brackets, err := client.LeverageBrackets(ctx, sym)
		if err != nil {
			add("leverage "+sym, false, "%v", err)
			continue
		}
		top := 0
		for _, br := range brackets {
			top = max(top, br.InitialLeverage)
		}
		if want, ok := leverage[sym]; ok {
			add("leverage "+sym, want <= top, "policy %dx, brackets allow up to %dx", want, top)
		} else {
			add("leverage "+sym, true, "brackets allow up to %dx", top)
		}
	}

	ok := true
	for _, l := range lines {
		ok = ok && l.OK
	}
	if *asJSON {
		writeJSON(c.Env.Stdout, map[string]any{"ok": ok, "base_url": cfg.BaseURL, "environment": env, "checks": lines})
	} else {
		tw := cli.Table(c.Env.Stdout)
		for _, l := range lines {
			verdict := "PASS"
			if !l.OK {
				verdict = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", verdict, l.Name, l.Detail)
		}
		tw.Flush()
	}
	if !ok {
		return cli.ExitFail
	}
	return cli.ExitOK
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}
