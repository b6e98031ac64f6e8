// Package canon is the length-prefixed record encoding that both signed
// documents of the system use (the policy hash and the plan signature).
// It has two versions, named in the header line that starts the bytes:
//
//	v1  <header><name>=<byte length of value>:<value>\n ...
//	v2  <header><byte length of name>:<name>=<byte length of value>:<value>\n ...
//
// with the fields in byte order of their names. The values are the exact
// text sent or stored.
//
// In v1 only the values are length-prefixed: a name may contain "=", ":"
// or a newline, so a run of adjacent fields can be folded into one junk
// name with byte for byte the same encoding. v2 prefixes the names too,
// so distinct field maps never share an encoding; and a reader refuses
// every name outside ValidName before it verifies anything, which closes
// the folding in v1 as well (a folded name holds "=" and "\n").
package canon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Version names an encoding.
type Version uint8

// The encodings.
const (
	V1 Version = 1 // values length-prefixed, names not
	V2 Version = 2 // names and values length-prefixed
)

func (v Version) String() string { return "v" + strconv.Itoa(int(v)) }

// Versions is a set of encodings a verifier accepts. The zero value is
// DefaultVersions.
type Versions uint8

// DefaultVersions is what a verifier accepts unless configured: v2 only.
const DefaultVersions = Versions(1 << V2)

// Of returns the set of vs.
func Of(vs ...Version) Versions {
	var s Versions
	for _, v := range vs {
		s |= 1 << v
	}
	return s
}

// Has reports whether v is in s (the zero set being DefaultVersions).
func (s Versions) Has(v Version) bool {
	if s == 0 {
		s = DefaultVersions
	}
	return v <= V2 && s&(1<<v) != 0
}

// String lists s as ParseVersions reads it, such as "v1,v2".
func (s Versions) String() string {
	var out []string
	for _, v := range []Version{V1, V2} {
		if s.Has(v) {
			out = append(out, v.String())
		}
	}
	return strings.Join(out, ",")
}

// ParseVersions reads a comma-separated list of encodings: "v2" or
// "v1,v2" ("v1" alone is allowed, for a verifier that has not moved yet).
// An empty list, an unknown name or a repeat is an error.
func ParseVersions(list string) (Versions, error) {
	var s Versions
	for _, name := range strings.Split(list, ",") {
		var v Version
		switch strings.TrimSpace(name) {
		case "v1":
			v = V1
		case "v2":
			v = V2
		default:
			return 0, fmt.Errorf("encodings %q: want a comma-separated list of v1 and v2, such as \"v2\" or \"v1,v2\"", clip(list))
		}
		if s&(1<<v) != 0 {
			return 0, fmt.Errorf("encodings %q: %s listed twice", clip(list), v)
		}
		s |= 1 << v
	}
	return s, nil
}

// MaxNameBytes is the longest field name.
const MaxNameBytes = 64

// ValidName reports whether name matches ^[A-Za-z0-9_]{1,64}$, the only
// field names either signed document may carry.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// LowerHex reports whether s is non-empty lowercase hex of even length:
// the only spelling of a hash or signature either document accepts.
func LowerHex(s string) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Encode returns the encoding v of fields under header, leaving out the
// fields for which skip returns true.
func Encode(v Version, header string, fields map[string]string, skip func(name string) bool) []byte {
	return Append(nil, v, header, fields, skip)
}

// Append appends the encoding v to dst and returns it; with a dst of
// enough capacity it does not allocate for up to 32 fields.
func Append(dst []byte, v Version, header string, fields map[string]string, skip func(name string) bool) []byte {
	dst, _ = appendEnc(dst, v, header, fields, skip)
	return dst
}

// AppendValid is Append for verifiers: ok is false, and nothing is worth
// verifying, when a field name (skipped ones included) is not ValidName.
// It checks the names in the pass that encodes them.
func AppendValid(dst []byte, v Version, header string, fields map[string]string, skip func(name string) bool) ([]byte, bool) {
	return appendEnc(dst, v, header, fields, skip)
}

func appendEnc(dst []byte, v Version, header string, fields map[string]string, skip func(name string) bool) ([]byte, bool) {
	var stack [32]pair
	pairs := stack[:0]
	valid := true
	for k, val := range fields {
		valid = valid && ValidName(k)
		if !skip(k) {
			pairs = append(pairs, pair{k, val})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, header...)
	for _, p := range pairs {
		if v == V2 {
			dst = strconv.AppendInt(dst, int64(len(p.k)), 10)
			dst = append(dst, ':')
		}
		dst = append(dst, p.k...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(len(p.v)), 10)
		dst = append(dst, ':')
		dst = append(dst, p.v...)
		dst = append(dst, '\n')
	}
	return dst, valid
}

type pair struct{ k, v string }

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
