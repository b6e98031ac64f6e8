package proof

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// CheckRun checks the options of a proof run before anything runs: a
// format of Formats, and a canary timeout and refresh interval > 0.
func CheckRun(format string, timeout, refreshInterval time.Duration) error {
	if !slices.Contains(Formats, format) {
		return fmt.Errorf("--format %q: want text, tap, junit or json", format)
	}
	if timeout <= 0 || refreshInterval <= 0 {
		return errors.New("--timeout and --refresh-interval must be positive")
	}
	return nil
}
