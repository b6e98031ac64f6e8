package bench

import (
	"fmt"
	"io"
)

// ProgressTo returns a SoakOptions.Progress writing one line per sample
// to w: "t=12s plans=… results=… used_memory=…".
func ProgressTo(w io.Writer) func(Sample) {
	return func(s Sample) {
		fmt.Fprintf(w, "t=%.0fs plans=%d results=%d used_memory=%d\n", s.AtSec, s.Plans, s.Results, s.UsedMemory)
	}
}
