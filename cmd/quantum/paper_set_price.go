package main

import (
	"context"
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
	prices, err := paper.ParsePrices(c.Args)
	if err != nil {
		return c.UsageErr("%v", err)
	}
	return c.WithRedis(false, func(rdb cli.RedisClient) int {
		moved, err := paper.MoveMarks(ctx, rdb, c.Keys(), prices, func() time.Time { return applylayer.DayStart(c.Env.Clock()()) })
		if err != nil {
			return c.Errorf("%v", err)
		}
		if *asJSON {
			return cli.WriteJSON(c.Env.Stdout, moved.JSON())
		}
		moved.WriteText(c.Env.Stdout)
		return cli.ExitOK
	})
}
