package alertforward

// amMessages is what Alertmanager gets for an entry: the alert itself and,
// when it resolves or changes the labels of an alert_id, the resolution of
// the label sets sent before.
func (f *Forwarder) amMessages(fields map[string]string) []amAlert {
	a := fromEntry(fields)
	f.mu.Lock()
	prev := f.firing[fields["alert_id"]]
	if fields["status"] != "firing" && len(prev) == 0 {
		prev = f.ended[fields["alert_id"]] // already resolved by catchUp
	}
	f.mu.Unlock()
	end := f.cfg.Now()
	if t, ok := unix(fields["timestamp"]); ok {
		end = t
	}
	if fields["status"] != "firing" && len(prev) > 0 {
		// A resolved entry carries no details: resolve what was sent.
		var out []amAlert
		for _, p := range prev {
			out = append(out, p.resolvedAt(end))
		}
		return out
	}
	out := []amAlert{a}
	for _, p := range prev {
		if !sameLabels(p, a) {
			out = append(out, p.resolvedAt(end))
		}
	}
	return out
}

// track records an entry's effect on the firing set. A delivered firing
// entry leaves its label set alone for its alert_id (the ones before were
// resolved in the same POST); one seen by catchUp is added to the label
// sets, so that the delivery which follows, here, resolves the others.
func (f *Forwarder) track(fields map[string]string, delivered bool) {
	id := fields["alert_id"]
	if id == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fields["status"] != "firing" {
		if !delivered && len(f.firing[id]) > 0 {
			// Keep what to resolve for the delivery of this entry.
			if len(f.ended) >= maxEnded {
				clear(f.ended)
			}
			f.ended[id] = f.firing[id]
		}
		if delivered {
			delete(f.ended, id)
		}
		delete(f.firing, id)
		delete(f.types, id)
		return
	}
	a := fromEntry(fields)
	sets := []amAlert{a}
	if !delivered {
		for _, p := range f.firing[id] {
			if !sameLabels(p, a) {
				sets = append(sets, p)
			}
		}
		sets = append(sets[1:], a) // the current one last
	}
	f.firing[id] = sets
	f.types[id] = [2]string{fields["alert_type"], fields["severity"]}
}

// Firing returns the alert_ids the forwarder holds as firing.
func (f *Forwarder) Firing() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.firing {
		ids = append(ids, id)
	}
	return ids
}

func (f *Forwarder) firingCounts() map[[2]string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[[2]string]int{}
	for _, ts := range f.types {
		n[ts]++
	}
	return n
}
