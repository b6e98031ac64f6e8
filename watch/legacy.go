package watch

// LegacyTestInputVar is the old watch script's way to feed it test lines
// instead of the journal (LEGACY.md). The watch reads apply.result, not a
// journal, so there is nothing to feed: a run with it set is refused
// (exit 2) instead of silently acting on production (the old habit once
// published a real "resolved" alert).
const LegacyTestInputVar = "EXIT_OWNER_WATCH_TEST_INPUT"

// LegacyTestInput returns why a run under prefix is refused, "" when it is
// not (getenv reads the environment).
func LegacyTestInput(getenv func(string) string, prefix string) string {
	if getenv(LegacyTestInputVar) == "" {
		return ""
	}
	return LegacyTestInputVar + " is set: this watch reads quantum:stream:apply.result, not test lines, and would act on the live alerts of prefix " + prefix +
		"; unset it, and test with 'quantum proof run exit-owner-watch' (a scratch namespace) or on a scratch --prefix with plans of your own (docs/watch.md)"
}
