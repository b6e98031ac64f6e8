package applylayer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

// CheckOptions configure CheckOrphans, the operator's `quantum reconcile`.
type CheckOptions struct {
	Redis   redis.UniversalClient
	Keys    keys.Space
	Venue   exchange.Venue
	Symbols []string      // nil: the live policy's universe
	Since   time.Duration // the orders placed this long ago and later
	Now     func() time.Time
	Log     *slog.Logger
}

// Orphans is what CheckOrphans found in how many symbols.
type Orphans struct {
	Found   []Orphan
	Symbols int
}

// CheckOrphans runs Reconcile once over opt.Symbols (by default the live
// policy's universe), recording and alerting new orphans on opt.Redis.
func CheckOrphans(ctx context.Context, opt CheckOptions) (*Orphans, error) {
	hist, ok := opt.Venue.(exchange.OrderHistory)
	if !ok {
		return nil, errors.New("this venue cannot list its recent orders")
	}
	syms := opt.Symbols
	if len(syms) == 0 {
		store, err := policystore.New(opt.Redis, policystore.Options{Keys: opt.Keys, Now: opt.Now})
		if err != nil {
			return nil, err
		}
		sp, err := store.Raw(ctx)
		if err != nil {
			return nil, fmt.Errorf("the live policy's universe: %w (or give --symbols)", err)
		}
		syms = policy.UniverseOf(sp)
		if len(syms) == 0 {
			return nil, errors.New("no universe in the live policy: give --symbols")
		}
	}
	alerts, err := alert.New(opt.Redis, alert.Options{Keys: opt.Keys, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	found, err := Reconcile(ctx, opt.Redis, opt.Keys, hist, syms, opt.Now().Add(-opt.Since), alerts, opt.Log)
	if err != nil {
		return nil, err
	}
	return &Orphans{Found: found, Symbols: len(syms)}, nil
}

// WriteText writes one ORPHAN_ORDER line per orphan, or the line that
// says every order has its record.
func (o *Orphans) WriteText(w io.Writer) {
	tw := texttable.New(w)
	for _, x := range o.Found {
		state := "recorded before"
		if x.New {
			state = "new, alerted"
		}
		fmt.Fprintf(tw, "ORPHAN_ORDER\t%s\t%s %s\t%s filled %s\t%s\n", x.ClientOrderID, x.Symbol, x.Side, x.Status, x.FilledQty, state)
	}
	tw.Flush()
	if len(o.Found) == 0 {
		fmt.Fprintf(w, "no orphan: every order of ours in %d symbol(s) has its record\n", o.Symbols)
	}
}
