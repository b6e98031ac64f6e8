package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/breakglass"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/texttable"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "close",
		Args:    "SYMBOL",
		Summary: "close a position by hand: a signed reduce-only plan from break-glass source manual_close",
		Help: `Sends one signed reduceOnly MARKET plan that closes SYMBOL's position (or
--qty of it) as source manual_close, with the key line in --key-file (env
QUANTUM_MANUAL_CLOSE_KEY_FILE; its source must be manual_close), waits for
its result and prints it. The apply layer must list manual_close in
--break-glass (QUANTUM_BREAK_GLASS) with its line in the keyring; every gate
still applies.

The side and the full quantity are read from the paper venue's positions in
Redis; with --exchange binance give --side (SELL closes a long, BUY a short)
and --qty. Every close is audited on quantum:stream:operator.audit (actor,
command, symbol, side, qty, plan_id, result) and alerted as MANUAL_EXIT on
quantum:stream:alerts.

Exit status: 0 executed; 1 not executed (the result says why), no position;
2 usage; 3 no result within --wait.`,
		Run: func(ctx context.Context, c *cli.Invocation) int { return runClose(ctx, c, false) },
	})
	cli.Register(&cli.Command{
		Name:    "flatten",
		Args:    "[SYMBOL...]",
		Summary: "the kill switch: close every position (--all) or those of SYMBOLs, as break-glass source emergency_stop",
		Help: `Sends one signed reduceOnly MARKET close per open position of the paper
venue (--all) or per SYMBOL given, as source emergency_stop with the key line
in --key-file (env QUANTUM_EMERGENCY_STOP_KEY_FILE; its source must be
emergency_stop), waits for every result and prints them. The apply layer must
list emergency_stop in --break-glass with its line in the keyring. Audited on
quantum:stream:operator.audit and alerted as MANUAL_EXIT (critical).

Halting new entries is the policy's job: publish trading_state HALTED or
REDUCING (docs/policy.md) before or after flattening.

Exit status: 0 every close executed (or nothing to close); 1 some did not;
2 usage; 3 some result did not arrive within --wait.`,
		Run: func(ctx context.Context, c *cli.Invocation) int { return runClose(ctx, c, true) },
	})
}

func runClose(ctx context.Context, c *cli.Invocation, flatten bool) int {
	source, envKey := breakglass.SourceManualClose, "QUANTUM_MANUAL_CLOSE_KEY_FILE"
	if flatten {
		source, envKey = breakglass.SourceEmergencyStop, "QUANTUM_EMERGENCY_STOP_KEY_FILE"
	}
	keyFile := c.FS.String("key-file", c.Env.Getenv(envKey), "`FILE` holding the "+source+" keyring line (env "+envKey+")")
	wait := c.FS.Duration("wait", 15*time.Second, "wait this long for the results")
	qty, side := new(string), new(string)
	var all *bool
	if flatten {
		all = c.FS.Bool("all", false, "close every open position of the paper venue")
	} else {
		qty = c.FS.String("qty", "", "close this much (default: the whole position)")
		side = c.FS.String("side", "", "SELL closes a long, BUY a short (default: from the paper venue's position)")
	}
	nargs := 1
	if flatten {
		nargs = -1
	}
	if code, ok := c.Parse(nargs); !ok {
		return code
	}
	if flatten && *all == (len(c.Args) > 0) {
		return c.UsageErr("give --all or SYMBOLs, not both and not neither")
	}
	if *keyFile == "" {
		return c.UsageErr("--key-file FILE (or %s) is required: closes are signed as %s", envKey, source)
	}
	signer, err := breakglass.LoadSigner(*keyFile, source)
	if err != nil {
		return closeErr(c, err)
	}
	return c.WithRedis(true, func(rdb cli.RedisClient) int {
		req := breakglass.Request{Symbols: c.Args, Side: strings.ToUpper(*side), Qty: *qty}
		if flatten && *all {
			req.Symbols = nil // every symbol
		}
		rep, err := breakglass.Run(ctx, breakglass.Options{Redis: rdb, Keys: c.Keys(), Signer: signer, Flatten: flatten, Wait: *wait,
			Actor: breakglass.Actor(c.Env.Getenv), Command: c.Cmd.Name, Now: c.Env.Clock()}, req)
		switch {
		case errors.Is(err, breakglass.ErrNoPosition):
			fmt.Fprintf(c.Env.Stderr, "quantum close: no open %s position on the paper venue (give --side and --qty for another venue)\n", c.Args[0])
			return cli.ExitFail
		case errors.Is(err, breakglass.ErrNothingToClose):
			fmt.Fprintln(c.Env.Stdout, err)
			return cli.ExitOK
		case err != nil:
			return closeErr(c, err)
		}
		tw := texttable.New(c.Env.Stdout)
		rep.WriteText(tw, c.Env.Stderr, source, c.Cmd.Name)
		tw.Flush()
		if rep.WaitErr != nil {
			return c.Errorf("%v", rep.WaitErr)
		}
		return rep.ExitCode()
	})
}

// closeErr reports err: exit 2 when it is the operator's input, else 1.
func closeErr(c *cli.Invocation, err error) int {
	if breakglass.IsInput(err) {
		return c.UsageErr("%v", err)
	}
	return c.Errorf("%v", err)
}
