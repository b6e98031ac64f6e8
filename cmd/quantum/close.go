package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/breakglass"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/producer"
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
	var qty, side *string
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
	signer, err := producer.LoadSigner(*keyFile)
	if err != nil {
		return c.Errorf("%v", err)
	}
	if signer.Source != source {
		return c.UsageErr("%s holds the key of %s: this command signs as %s only", *keyFile, signer.Source, source)
	}
	rdb, err := c.RedisBlocking()
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer rdb.Close()
	k := c.Keys()
	var orders []breakglass.Close
	switch {
	case flatten:
		syms := c.Args
		if *all {
			syms = nil // every symbol
		}
		orders, err = breakglass.Positions(ctx, rdb, k, syms)
	case !market.ValidSymbol(c.Args[0]):
		return c.UsageErr("symbol %q: want 2-20 of A-Z and 0-9", c.Args[0])
	default:
		var o breakglass.Close
		o, err = breakglass.Single(ctx, rdb, k, c.Args[0], strings.ToUpper(*side), *qty)
		orders = []breakglass.Close{o}
	}
	if errors.Is(err, breakglass.ErrNoPosition) {
		fmt.Fprintf(c.Env.Stderr, "quantum close: no open %s position on the paper venue (give --side and --qty for another venue)\n", c.Args[0])
		return cli.ExitFail
	}
	if err != nil {
		return c.Errorf("%v", err)
	}
	if len(orders) == 0 {
		fmt.Fprintln(c.Env.Stdout, "nothing to close: no open position")
		return cli.ExitOK
	}
	rep, err := breakglass.Send(ctx, breakglass.Options{Redis: rdb, Keys: k, Signer: signer, Flatten: flatten, Wait: *wait,
		Actor: actor(c), Command: c.Cmd.Name, Now: c.Env.Clock()}, orders)
	var bad *breakglass.PlanError
	if errors.As(err, &bad) {
		return c.UsageErr("%v", bad)
	}
	if err != nil {
		return c.Errorf("%v", err)
	}
	code := cli.ExitOK
	tw := cli.Table(c.Env.Stdout)
	for _, r := range rep.Results {
		switch {
		case !r.Arrived:
			code = 3
		case !r.Executed && code == cli.ExitOK:
			code = cli.ExitFail
		}
		fmt.Fprintf(tw, "%s\t%s %s %s\t%s\tplan_id=%s filled_qty=%s\n", source, r.Side, r.Qty, r.Symbol, r.Outcome, r.PlanID, r.FilledQty)
		if r.AuditErr != nil {
			fmt.Fprintf(c.Env.Stderr, "quantum %s: audit of %s not written: %v\n", c.Cmd.Name, r.PlanID, r.AuditErr)
			code = cli.ExitFail
		}
		if r.AlertErr != nil {
			fmt.Fprintf(c.Env.Stderr, "quantum %s: MANUAL_EXIT alert for %s not published: %v\n", c.Cmd.Name, r.PlanID, r.AlertErr)
			code = cli.ExitFail
		}
	}
	tw.Flush()
	if rep.WaitErr != nil {
		return c.Errorf("%v", rep.WaitErr)
	}
	return code
}

// actor names the operator: $SUDO_USER, else the user.
func actor(c *cli.Invocation) string {
	if u := c.Env.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
