package binance

// attempt is what the client remembers of the last order sent under a
// client order id.
type attempt struct {
	ts      int64 // its timestamp, venue ms (the venue refuses it after ts + recvWindow)
	unknown bool  // its outcome was never known (no answer, 5xx, -1007, ...)
}

// sentIDs remembers the last n client order ids sent, oldest forgotten first.
type sentIDs struct {
	set  map[string]*attempt
	ring []string
	next int
}

func newSentIDs(n int) sentIDs { return sentIDs{set: map[string]*attempt{}, ring: make([]string, n)} }

func (s *sentIDs) add(id string) *attempt {
	if a := s.set[id]; a != nil {
		return a
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	a := &attempt{}
	s.set[id] = a
	return a
}
