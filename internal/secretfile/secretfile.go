// Package secretfile holds the checks every file with a secret in it goes
// through before it is read (policy signing keys, producer HMAC secrets,
// exchange credentials), and the splitting of the comma-separated lists of
// files that environment variables carry.
package secretfile

import (
	"fmt"
	"os"
	"strings"
)

// Check refuses a file that holds a secret when its group or others may
// read or write it: the error says the chmod that fixes it. It never reads
// the file's content, so nothing secret can reach an error.
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("secret file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secret file %s has mode %04o: group and others must have no access (chmod 600 %s)", path, perm, path)
	}
	return nil
}

// SplitList splits a list given as "a,b" (the form of variables such as
// QUANTUM_POLICY_PUBKEY), trimming spaces and dropping empty items.
func SplitList(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
