// Package streamid reads and orders Redis stream entry ids ("<ms>-<seq>").
// The watch's windows, the proofs' result cursors and the apply layer's
// group start all compare ids; they do it here, as numbers, never as text
// ("9-0" sorts after "10-0" as text).
package streamid

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ID is a stream entry id.
type ID struct{ MS, Seq uint64 }

// Parse reads "<ms>-<seq>".
func Parse(s string) (ID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return ID{}, fmt.Errorf("stream entry id %q: want <ms>-<seq>", s)
	}
	return ID{a, b}, nil
}

// String is the id as Redis writes it.
func (id ID) String() string { return fmt.Sprintf("%d-%d", id.MS, id.Seq) }

// Less orders ids as Redis does.
func (id ID) Less(o ID) bool { return id.MS < o.MS || id.MS == o.MS && id.Seq < o.Seq }

// Time is the id's millisecond part as a time (the server's clock when it
// assigned the id, unless a writer chose the id). An id beyond what a
// time.Time holds (a writer's largest id) gives the largest time.
func (id ID) Time() time.Time {
	if id.MS > math.MaxInt64/1000 {
		return time.Unix(math.MaxInt64/1000, 0)
	}
	return time.UnixMilli(int64(id.MS))
}
