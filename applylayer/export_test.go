package applylayer

import "time"

// SetGroupStartLookback changes how many results a new group's start is
// computed from, for a test; it returns a function that restores it.
func SetGroupStartLookback(n int64) (restore func()) {
	old := groupStartLookback
	groupStartLookback = n
	return func() { groupStartLookback = old }
}

// SetHousekeepEvery changes how often housekeeping runs, for a test.
func SetHousekeepEvery(d time.Duration) (restore func()) {
	old := HousekeepEvery
	HousekeepEvery = d
	return func() { HousekeepEvery = old }
}

// SetReconcileEvery changes how often the apply layer reconciles, for a test.
func SetReconcileEvery(d time.Duration) (restore func()) {
	old := ReconcileEvery
	ReconcileEvery = d
	return func() { ReconcileEvery = old }
}
