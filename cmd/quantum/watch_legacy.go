package main

import "github.com/quantumtrader/quantum/internal/cli"

// legacyTestInputVar is the old watch script's way to feed it test lines
// instead of the journal (LEGACY.md). The watch reads apply.result, not a
// journal, so there is nothing to feed: a run with it set is refused
// (exit 2) instead of silently acting on production (the old habit once
// published a real "resolved" alert).
const legacyTestInputVar = "EXIT_OWNER_WATCH_TEST_INPUT"

// legacyTestInput returns why the run is refused, "" when it is not.
func legacyTestInput(c *cli.Invocation) string {
	if c.Env.Getenv(legacyTestInputVar) == "" {
		return ""
	}
	return legacyTestInputVar + " is set: this watch reads quantum:stream:apply.result, not test lines, and would act on the live alerts of prefix " + c.G.Prefix +
		"; unset it, and test with 'quantum proof run exit-owner-watch' (a scratch namespace) or on a scratch --prefix with plans of your own (docs/watch.md)"
}
