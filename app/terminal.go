package app

import (
	"io"
	"os"
)

// IsTerminal reports whether w is a character device (a terminal): the
// dev screen redraws there, and prints blocks elsewhere.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
