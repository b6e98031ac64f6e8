package main

import (
	"context"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "reconcile",
		Summary: "find orders of ours at the venue that no execution record knows; record and alert them (ORPHAN_ORDER), never place",
		Help: `Lists the venue's recent orders whose client order id has our prefix (qt-) in each
of --symbols (default: the live policy's universe), placed in the last --since
(at most the record TTL: older records have expired), and compares them with
the apply layer's execution records. An order no record knows (its record lost
in a Redis failover, or another system using our prefix) is an orphan: it is
recorded under <prefix>:apply:orphan:<client_order_id>, logged and alerted
ORPHAN_ORDER once. Nothing is ever placed or cancelled: what to do with the
position is the operator's call (quantum close). The apply layer runs the same
check every 5 minutes by itself.

Exit 0 when no orphan was found, 1 when there are orphans, 2 when it could not
check. The venue flags are those of apply-layer (--exchange, --paper-price,
the Binance ones).`,
		Run: runReconcile,
	})
}

func runReconcile(ctx context.Context, c *cli.Invocation) int {
	var a applyFlags
	a.registerVenue(c.FS, c.Env.Getenv)
	since := c.FS.Duration("since", time.Hour, "look at the orders placed this long ago and later (at most --record-ttl of the apply layer)")
	symbols := c.FS.String("symbols", "", "comma-separated `SYMBOLS` (default: the live policy's universe)")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(c.Env.Stderr, "quantum reconcile: could not check: %v\n", err)
		return cli.ExitUsage
	}
	rdb, err := c.Redis()
	if err != nil {
		return fail(err)
	}
	defer rdb.Close()
	venue, err := a.openVenue(ctx, c, rdb, nil)
	if err != nil {
		return fail(err)
	}
	rep, err := applylayer.CheckOrphans(ctx, applylayer.CheckOptions{Redis: rdb, Keys: c.Keys(), Venue: venue,
		Symbols: secretfile.SplitList(*symbols), Since: *since, Now: c.Env.Clock(), Log: c.Logger()})
	if err != nil {
		return fail(err)
	}
	rep.WriteText(c.Env.Stdout)
	if len(rep.Found) > 0 {
		return cli.ExitFail
	}
	return cli.ExitOK
}
