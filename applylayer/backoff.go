package applylayer

import "time"

// backoff paces retries during a Redis outage: 100 ms doubling to 2 s, and
// logs the first failure and then one in twenty, so an outage neither spins
// nor floods the journal.
type backoff struct {
	d     time.Duration
	count int
}

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	b.count++
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 2*time.Second:
		b.d = min(2*b.d, 2*time.Second)
	}
	return b.d
}

func (b *backoff) shouldLog() bool { return b.count == 1 || b.count%20 == 0 }

func (b *backoff) reset() { b.d, b.count = 0, 0 }
