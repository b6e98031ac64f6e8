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

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
)

// The break-glass sources of the operator's kill switch (docs/migration.md,
// the exit path). Each has its own key; the apply layer must list both in
// --break-glass, with their lines in its keyring.
const (
	sourceManualClose   = "manual_close"
	sourceEmergencyStop = "emergency_stop"
)

// alertManualExit is the alert type of an operator's close (SPEC.md).
const alertManualExit = "MANUAL_EXIT"

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

// closeOrder is one close to send.
type closeOrder struct {
	symbol, side, qty string
}

func runClose(ctx context.Context, c *cli.Invocation, flatten bool) int {
	source, envKey := sourceManualClose, "QUANTUM_MANUAL_CLOSE_KEY_FILE"
	if flatten {
		source, envKey = sourceEmergencyStop, "QUANTUM_EMERGENCY_STOP_KEY_FILE"
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
	var orders []closeOrder
	switch {
	case flatten && *all:
		if orders, err = openPositions(ctx, rdb, k, nil); err != nil {
			return c.Errorf("%v", err)
		}
	case flatten:
		if orders, err = openPositions(ctx, rdb, k, c.Args); err != nil {
			return c.Errorf("%v", err)
		}
	default:
		sym := c.Args[0]
		if !market.ValidSymbol(sym) {
			return c.UsageErr("symbol %q: want 2-20 of A-Z and 0-9", sym)
		}
		o := closeOrder{symbol: sym, side: strings.ToUpper(*side), qty: *qty}
		if o.side == "" || o.qty == "" {
			found, err := openPositions(ctx, rdb, k, []string{sym})
			if err != nil {
				return c.Errorf("%v", err)
			}
			if len(found) == 0 {
				fmt.Fprintf(c.Env.Stderr, "quantum close: no open %s position on the paper venue (give --side and --qty for another venue)\n", sym)
				return cli.ExitFail
			}
			o.side = cmpOr(o.side, found[0].side)
			o.qty = cmpOr(o.qty, found[0].qty)
		}
		orders = []closeOrder{o}
	}
	if len(orders) == 0 {
		fmt.Fprintln(c.Env.Stdout, "nothing to close: no open position")
		return cli.ExitOK
	}
	return sendCloses(ctx, c, rdb, k, signer, orders, *wait, flatten)
}

// openPositions returns a close for each open paper position (of symbols,
// or of every symbol when nil).
func openPositions(ctx context.Context, rdb redis.UniversalClient, k keys.Space, symbols []string) ([]closeOrder, error) {
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
	var out []closeOrder
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
		out = append(out, closeOrder{symbol: sym, side: side, qty: qty})
	}
	return out, nil
}

func sendCloses(ctx context.Context, c *cli.Invocation, rdb redis.UniversalClient, k keys.Space, signer producer.Signer, orders []closeOrder, wait time.Duration, flatten bool) int {
	now := c.Env.Clock()()
	cursor, err := producer.Cursor(ctx, rdb, k)
	if err != nil {
		return c.Errorf("%v", err)
	}
	action, severity := "MANUAL_CLOSE", alert.SeverityWarning
	if flatten {
		action, severity = "EMERGENCY_FLATTEN", alert.SeverityCritical
	}
	var ids []string
	sent := map[string]closeOrder{}
	for _, o := range orders {
		id := producer.NewPlanID(signer.Source, now)
		fields := signer.Sign(map[string]string{
			plan.FieldPlanID: id, plan.FieldDecision: string(plan.Execute), plan.FieldSymbol: o.symbol,
			plan.FieldSide: o.side, plan.FieldType: string(market.Market), plan.FieldQty: o.qty,
			plan.FieldReduceOnly: "true", plan.FieldTimestamp: strconv.FormatInt(now.Unix(), 10), plan.FieldAction: action,
		})
		if _, err := plan.Parse(fields); err != nil {
			return c.UsageErr("%s: %v", o.symbol, err)
		}
		if _, err := producer.Send(ctx, rdb, k, fields); err != nil {
			return c.Errorf("%v", err)
		}
		ids = append(ids, id)
		sent[id] = o
	}
	got, awaitErr := producer.Await(ctx, rdb, k, cursor, wait, ids...)
	alerts, err := alert.New(rdb, alert.Options{Keys: k, Now: c.Env.Clock()})
	if err != nil {
		return c.Errorf("%v", err)
	}
	code := cli.ExitOK
	tw := cli.Table(c.Env.Stdout)
	for _, id := range ids {
		o := sent[id]
		outcome := "NO_RESULT"
		r, ok := got[id]
		switch {
		case !ok:
			code = 3
		case r.Decision == plan.Executed:
			outcome = string(r.Decision)
		default:
			outcome = string(r.Decision) + " " + string(r.Reason)
			if code == cli.ExitOK {
				code = cli.ExitFail
			}
		}
		fmt.Fprintf(tw, "%s\t%s %s %s\t%s\tplan_id=%s filled_qty=%s\n", signer.Source, o.side, o.qty, o.symbol, outcome, id, r.FilledQty)
		if err := audit(ctx, rdb, k, c, signer.Source, o, id, outcome); err != nil {
			fmt.Fprintf(c.Env.Stderr, "quantum %s: audit of %s not written: %v\n", c.Cmd.Name, id, err)
			code = cli.ExitFail
		}
		_, err := alerts.Fire(ctx, alert.Alert{
			Type: alertManualExit, Labels: map[string]string{"plan_id": id}, Severity: severity, Count: 1, Window: time.Minute,
			Details: map[string]string{"sources": signer.Source, "symbols": o.symbol, "first_plan_id": id, "last_plan_id": id,
				"actor": actor(c), "side": o.side, "qty": o.qty, "outcome": outcome},
		}, time.Hour) // one incident per plan_id: the repeat never comes
		if err != nil {
			fmt.Fprintf(c.Env.Stderr, "quantum %s: MANUAL_EXIT alert for %s not published: %v\n", c.Cmd.Name, id, err)
			code = cli.ExitFail
		}
	}
	tw.Flush()
	if awaitErr != nil && !errors.Is(awaitErr, producer.ErrNoResult) {
		return c.Errorf("%v", awaitErr)
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

// audit appends one operator action to quantum:stream:operator.audit.
func audit(ctx context.Context, rdb redis.UniversalClient, k keys.Space, c *cli.Invocation, source string, o closeOrder, planID, outcome string) error {
	return rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.OperatorAudit(), MaxLen: 100000, Approx: true, Values: []string{
		"actor", actor(c), "command", c.Cmd.Name, "source", source, "symbol", o.symbol, "side", o.side, "qty", o.qty,
		"plan_id", planID, "result", outcome, "timestamp", strconv.FormatInt(c.Env.Clock()().Unix(), 10),
	}}).Err()
}
