package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "plan keygen",
		Summary: "print a new keyring line (SOURCE SECRET) for a producing service",
		Help: `Prints "SOURCE SECRET": 32 random bytes as hex. Append the line to the apply
layer's keyring (QUANTUM_KEYRING, mode 0600) and give the same line, in a file
of its own (mode 0600), to the producing service that signs its plans with it.
docs/producers.md shows how a Python producer signs.`,
		Run: runPlanKeygen,
	})
	cli.Register(&cli.Command{
		Name:    "plan send",
		Summary: "sign and send one plan, and optionally wait for its result",
		Help: `Builds a plan with the fields of SPEC.md, signs it with the keyring line in
--key-file (the source is that line's), and XADDs it to quantum:stream:apply.plan.

With --wait DURATION it prints the result's fields when the apply layer has
written it. Exit status: 0 sent (and, with --wait, EXECUTED or SKIPPED); 1 the
result is DENIED or FAILED, or the send failed; 2 usage; 3 no result arrived
within --wait.`,
		Run: runPlanSend,
	})
}

func runPlanKeygen(ctx context.Context, c *cli.Invocation) int {
	source := c.FS.String("source", "", "the producing service's `name`, as it writes it in source")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	line, err := plan.KeygenLine(*source)
	if err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum plan keygen: --source: %v\n", err)
		return cli.ExitUsage
	}
	fmt.Fprintln(c.Env.Stdout, line)
	return cli.ExitOK
}

func runPlanSend(ctx context.Context, c *cli.Invocation) int {
	keyFile := c.FS.String("key-file", "", "`FILE` holding the sender's keyring line; the source is its")
	planID := c.FS.String("plan-id", "", "plan_id (default: send-<unix ms>-<random>)")
	symbol := c.FS.String("symbol", "", "`SYMBOL` such as BTCUSDT")
	side := c.FS.String("side", "", "BUY or SELL")
	qty := c.FS.String("qty", "", "quantity, decimal")
	typ := c.FS.String("type", "MARKET", "MARKET or LIMIT")
	price := c.FS.String("price", "", "limit price (LIMIT only)")
	reduceOnly := c.FS.Bool("reduce-only", false, "reduceOnly=true: an exit")
	leverage := c.FS.Int("leverage", 0, "leverage (0: none in the plan)")
	action := c.FS.String("action", "MANUAL", "action label, such as FULL_CLOSE_PROPOSED")
	decision := c.FS.String("decision", "EXECUTE", "EXECUTE, SKIP or BLOCKED")
	canary := c.FS.Bool("canary", false, "canary=true: gated and recorded, never sent to a venue")
	wait := c.FS.Duration("wait", 0, "wait this long for the result and print it (0: do not wait)")
	minReplicas := c.FS.Int("min-replicas", cli.EnvInt(c.Env.Getenv, "QUANTUM_MIN_REPLICAS", 0), "confirm the plan reached this many Redis replicas (WAIT) before it counts as sent; exit 3 when not (env QUANTUM_MIN_REPLICAS)")
	asJSON := c.FS.Bool("json", false, "print the result as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *keyFile == "" {
		fmt.Fprintln(c.Env.Stderr, "quantum plan send: --key-file FILE is required: plans are signed")
		return cli.ExitUsage
	}
	signer, err := producer.LoadSigner(*keyFile)
	if err != nil {
		return c.Errorf("%v", err)
	}
	now := c.Env.Clock()()
	if *planID == "" {
		*planID = producer.NewPlanID("send", now)
	}
	fields, err := producer.Manual{ID: *planID, Decision: *decision, Symbol: *symbol, Side: *side, Type: *typ, Qty: *qty, Price: *price,
		Action: *action, ReduceOnly: *reduceOnly, Canary: *canary, Leverage: *leverage}.Build(signer, now)
	if err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum plan send: %v\n", err)
		return cli.ExitUsage
	}

	return c.WithRedis(true, func(rdb cli.RedisClient) int {
		id, got, err := producer.SendAndAwait(ctx, rdb, c.Keys(), fields, *minReplicas, *wait)
		switch {
		case errors.Is(err, producer.ErrNegativeReplicas):
			fmt.Fprintln(c.Env.Stderr, "quantum plan send: --min-replicas / QUANTUM_MIN_REPLICAS: want a whole number, 0 or more")
			return cli.ExitUsage
		case errors.Is(err, producer.ErrUnconfirmed):
			fmt.Fprintf(c.Env.Stderr, "quantum plan send: %v\n", err)
			return 3
		case err != nil:
			return c.Errorf("%v", err)
		case got == nil:
			fmt.Fprintf(c.Env.Stdout, "sent plan_id=%s source=%s entry=%s\n", *planID, signer.Source, id)
			return cli.ExitOK
		}
		if *asJSON {
			cli.WriteJSON(c.Env.Stdout, got.Map())
		} else {
			got.WriteText(c.Env.Stdout)
		}
		if got.Passed() {
			return cli.ExitOK
		}
		return cli.ExitFail
	})
}
