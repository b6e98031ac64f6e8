// Package canon is the length-prefixed record encoding that both signed
// documents of the system use (the policy hash and the plan signature):
//
//	<header><name>=<byte length of value>:<value>\n ...
//
// with the fields in byte order of their names. The values are the exact
// text sent or stored, and the length prefix keeps the encoding
// unambiguous whatever a value contains.
package canon

import (
	"slices"
	"strconv"
	"strings"
)

// Encode returns the encoding of fields under header, leaving out the
// fields for which skip returns true.
func Encode(header string, fields map[string]string, skip func(name string) bool) []byte {
	return Append(nil, header, fields, skip)
}

// Append appends the encoding to dst and returns it; with a dst of enough
// capacity it does not allocate for up to 32 fields.
func Append(dst []byte, header string, fields map[string]string, skip func(name string) bool) []byte {
	var stack [32]pair
	pairs := stack[:0]
	for k, v := range fields {
		if !skip(k) {
			pairs = append(pairs, pair{k, v})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, header...)
	for _, p := range pairs {
		dst = append(dst, p.k...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(len(p.v)), 10)
		dst = append(dst, ':')
		dst = append(dst, p.v...)
		dst = append(dst, '\n')
	}
	return dst
}

type pair struct{ k, v string }
