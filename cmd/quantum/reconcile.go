package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
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
	hist, ok := venue.(exchange.OrderHistory)
	if !ok {
		return fail(errors.New("this venue cannot list its recent orders"))
	}
	syms := secretfile.SplitList(*symbols)
	if len(syms) == 0 {
		store, closeStore, err := policyStore(c, nil, 0)
		if err != nil {
			return fail(err)
		}
		sp, err := store.Raw(ctx)
		closeStore()
		if err != nil {
			return fail(fmt.Errorf("the live policy's universe: %w (or give --symbols)", err))
		}
		syms = policy.UniverseOf(sp)
		if len(syms) == 0 {
			return fail(errors.New("no universe in the live policy: give --symbols"))
		}
	}
	alerts, err := alert.New(rdb, alert.Options{Keys: c.Keys(), Now: c.Env.Clock()})
	if err != nil {
		return fail(err)
	}
	orphans, err := applylayer.Reconcile(ctx, rdb, c.Keys(), hist, syms, c.Env.Clock()().Add(-*since), alerts, c.Logger())
	if err != nil {
		return fail(err)
	}
	tw := cli.Table(c.Env.Stdout)
	for _, o := range orphans {
		state := "recorded before"
		if o.New {
			state = "new, alerted"
		}
		fmt.Fprintf(tw, "ORPHAN_ORDER\t%s\t%s %s\t%s filled %s\t%s\n", o.ClientOrderID, o.Symbol, o.Side, o.Status, o.FilledQty, state)
	}
	tw.Flush()
	if len(orphans) > 0 {
		return cli.ExitFail
	}
	fmt.Fprintf(c.Env.Stdout, "no orphan: every order of ours in %d symbol(s) has its record\n", len(syms))
	return cli.ExitOK
}
