package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/cli"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "paper set-price",
		Args:    "SYMBOL=PRICE ...",
		Summary: "move the paper venue's mark prices at run time, for every replica",
		Help: `Moves the marks of the paper venue under --prefix: every apply-layer
replica, proof and quantum dev sharing the Redis fills at, and values
positions at, the new marks from now on (all of them move in one step).
A mark set here wins over --paper-price (HDEL quantum:paper:marks SYMBOL
goes back to it). Prints the marks set and the account's PnL of the day (realized
since 00:00 UTC + unrealized now), the figure max_daily_loss_usdt is
checked against. Use it to show a loss stop:

    quantum paper set-price BTCUSDT=52000 ETHUSDT=2400

A price is a decimal > 0 with at most 8 decimal places. Exit 0 when the
marks were set, 1 when Redis refused, 2 for a bad argument.`,
		Run: runPaperSetPrice,
	})
}

func runPaperSetPrice(ctx context.Context, c *cli.Invocation) int {
	asJSON := c.FS.Bool("json", false, "print as JSON")
	if code, ok := c.Parse(-1); !ok {
		return code
	}
	if len(c.Args) == 0 {
		return c.UsageErr("want at least one SYMBOL=PRICE, such as BTCUSDT=65000")
	}
	prices := map[string]string{}
	for _, a := range c.Args {
		sym, price, err := paper.ParsePrice(a)
		if err != nil {
			return c.UsageErr("%v", err)
		}
		if _, dup := prices[sym]; dup {
			return c.UsageErr("%s given twice", sym)
		}
		prices[sym] = price
	}
	rdb, err := c.Redis()
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer rdb.Close()
	if err := paper.SetPrices(ctx, rdb, c.Keys(), prices); err != nil {
		return c.Errorf("%v", err)
	}
	v, err := paper.New(rdb, c.Keys(), nil)
	if err != nil {
		return c.Errorf("%v", err)
	}
	day := applylayer.DayStart(c.Env.Clock()())
	pnl, pnlErr := v.DayPnL(ctx, day)
	if *asJSON {
		out := map[string]any{"marks": prices, "day": day.Format(time.DateOnly)}
		if pnlErr == nil {
			out["day_pnl_usdt"] = pnl
		} else {
			out["day_pnl_error"] = pnlErr.Error()
		}
		return writeJSON(c.Env.Stdout, out)
	}
	tw := cli.Table(c.Env.Stdout)
	fmt.Fprintln(tw, "SYMBOL\tMARK")
	for _, sym := range slices.Sorted(maps.Keys(prices)) {
		fmt.Fprintf(tw, "%s\t%s\n", sym, prices[sym])
	}
	tw.Flush()
	if pnlErr != nil {
		fmt.Fprintf(c.Env.Stdout, "day PnL (%s UTC): unknown: %v\n", day.Format(time.DateOnly), pnlErr)
	} else {
		fmt.Fprintf(c.Env.Stdout, "day PnL (%s UTC): %.2f USDT (realized since 00:00 + unrealized now)\n", day.Format(time.DateOnly), pnl)
	}
	return cli.ExitOK
}
