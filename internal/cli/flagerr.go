package cli

import (
	"flag"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The messages of package flag, which describeFlagError rewrites: its
// errors name the flag with one dash and, for a bad value, hide the cause
// ("parse error").
var (
	flagUndefinedRE = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagValueRE     = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]*): (.*)$`)
	flagNoValueRE   = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// describeFlagError turns a flag parse error into one line naming the flag
// as typed and the value, with the cause and, for an unknown flag, the
// nearest known one: `unknown flag --pubky (given: --pubky x); did you
// mean --pubkey?`, `--window "five": time: invalid duration "five"`.
func describeFlagError(fs *flag.FlagSet, raw []string, err error) string {
	msg := err.Error()
	if m := flagUndefinedRE.FindStringSubmatch(msg); m != nil {
		name := m[1]
		s := "unknown flag --" + name
		if typed := typedAs(raw, name); typed != "" {
			s += " (given: " + typed + ")"
		}
		if near := nearestFlag(fs, name); near != "" {
			s += "; did you mean --" + near + "?"
		}
		return s
	}
	if m := flagValueRE.FindStringSubmatch(msg); m != nil {
		value, name, cause := m[1], m[2], m[3]
		return fmt.Sprintf("--%s %q: %s", name, value, valueCause(fs.Lookup(name), value, cause))
	}
	if m := flagNoValueRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s needs a value", m[1])
	}
	return msg
}

// valueCause is why value does not parse for f: the parser's own error for
// the standard kinds, where package flag says only "parse error".
func valueCause(f *flag.Flag, value, cause string) string {
	if f == nil {
		return cause
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return cause
	}
	var err error
	switch g.Get().(type) {
	case time.Duration:
		if _, err = time.ParseDuration(value); err != nil {
			return err.Error() + " (want a Go duration such as 90s, 5m or 2h30m)"
		}
	case bool:
		return "want true or false"
	case int, int64:
		if _, err = strconv.ParseInt(value, 0, 64); err != nil {
			return "want a whole number"
		}
	case uint, uint64:
		if _, err = strconv.ParseUint(value, 0, 64); err != nil {
			return "want a whole number of at least 0"
		}
	case float64:
		if _, err = strconv.ParseFloat(value, 64); err != nil {
			return "want a number"
		}
	}
	return cause
}

// typedAs returns the argument that set the unknown flag name, with its
// value when it was given as the next argument.
func typedAs(raw []string, name string) string {
	for i, a := range raw {
		bare := strings.TrimLeft(a, "-")
		if a == bare {
			continue
		}
		if bare == name {
			if i+1 < len(raw) && !strings.HasPrefix(raw[i+1], "-") {
				return a + " " + raw[i+1]
			}
			return a
		}
		if strings.HasPrefix(bare, name+"=") {
			return a
		}
	}
	return ""
}

// nearestFlag returns the defined flag closest to name (edit distance at
// most 2; a prefix either way counts as 2), "" when none is.
func nearestFlag(fs *flag.FlagSet, name string) string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	fs.VisitAll(func(f *flag.Flag) {
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) || strings.HasPrefix(name, f.Name) {
			d = min(d, 2)
		}
		if d <= 2 {
			cs = append(cs, cand{f.Name, d})
		}
	})
	if len(cs) == 0 {
		return ""
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d || cs[i].d == cs[j].d && cs[i].name < cs[j].name })
	return cs[0].name
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
