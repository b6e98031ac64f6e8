package applylayer

// SetGroupStartLookback changes how many results a new group's start is
// computed from, for a test; it returns a function that restores it.
func SetGroupStartLookback(n int64) (restore func()) {
	old := groupStartLookback
	groupStartLookback = n
	return func() { groupStartLookback = old }
}
