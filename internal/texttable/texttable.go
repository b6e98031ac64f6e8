// Package texttable is the one layout of every aligned text table the
// commands print (status, reports, checks, ledgers): columns separated by at
// least two spaces, padded with spaces, so every table reads the same.
package texttable

import (
	"io"
	"text/tabwriter"
)

// New returns a tabwriter for an aligned table on w; call Flush when done.
func New(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }
