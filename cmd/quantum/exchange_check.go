package main

import (
	"context"
	"flag"
	"time"

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
	return binance.Settings{URL: b.url, KeyFile: b.keyFile, SecretFile: b.secretFile, Timeout: b.timeout}.Config(c.Env.Getenv, c.Env.Clock(), c.Logger())
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
		return configErr(c, err)
	}
	client, err := binance.New(cfg)
	if err != nil {
		return configErr(c, err)
	}
	rep := binance.Check(ctx, client, binance.CheckOptions{BaseURL: cfg.BaseURL, MaxOffset: *maxOffset, Symbols: secretfile.SplitList(*symbols),
		Universe: func(ctx context.Context) (*binance.Universe, error) {
			sp, err := loadVerified(ctx, c, *pubkeys, policystore.DefaultClockSkew)
			if err != nil {
				return nil, err
			}
			return &binance.Universe{Symbols: sp.UniverseSymbols, Leverage: sp.LeverageBySymbol, Version: sp.Version, Seq: sp.Seq}, nil
		}})
	return printReport(c, *asJSON, rep, rep.WriteText, rep.OK)
}
