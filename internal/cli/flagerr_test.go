package cli

import (
	"flag"
	"testing"
)

func TestNearestFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	for _, n := range []string{"pubkey", "keyring", "key", "json"} {
		fs.String(n, "", "")
	}
	for _, tc := range []struct{ typed, want string }{{"pubky", "pubkey"}, {"keyrng", "keyring"}, {"xyzzy", ""}, {"pub", "pubkey"}, {"jsn", "json"}, {"ky", "key"}} {
		if got := nearestFlag(fs, tc.typed); got != tc.want {
			t.Errorf("nearestFlag(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
}
