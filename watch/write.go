package watch

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteRun writes what `quantum exit-owner watch` prints of one run that
// returned r and err: the JSON object (asJSON) or the summary line on out,
// and a failed run's "[EXIT-OWNER-WATCH] FAILED (exit 2)" line on errw,
// never a summary (a failed run is neither "deduped" nor "clean").
func WriteRun(out, errw io.Writer, r *Report, err error, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(r.JSON(err))
	}
	switch {
	case err != nil:
		fmt.Fprintf(errw, "%s FAILED (exit 2): %v\n", Tag, err)
	case !asJSON:
		fmt.Fprintln(out, r.Summary())
	}
}
