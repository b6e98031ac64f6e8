package proof

import (
	"context"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// LedgerEntries reads the runs `quantum proof ledger` shows: the newest
// count runs; with count 0, the newest 20 for JSON, or the newest 1000 for
// the Markdown ledger (each proof's newest run among them).
func LedgerEntries(ctx context.Context, rdb redis.Cmdable, ks keys.Space, count int64, asJSON bool) ([]Entry, error) {
	switch {
	case count == 0 && asJSON:
		count = 20
	case count == 0:
		count = 1000
	}
	return Entries(ctx, rdb, ks, count)
}

// WriteLedger writes entries as the Markdown ledger (markdown) or as one
// line per run, saying so when there is none.
func WriteLedger(w io.Writer, ks keys.Space, entries []Entry, markdown bool) {
	switch {
	case markdown:
		WriteMarkdown(w, Latest(entries))
	case len(entries) == 0:
		fmt.Fprintf(w, "no proof runs on %s\n", ks.ProofRuns())
	default:
		WriteRuns(w, entries)
	}
}
