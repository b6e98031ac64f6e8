package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeyringErrorsNeverPrintASecret: a keyring line with its two columns
// swapped (issue 17: the exit owner's secret landed in the journal), or
// with a secret pasted into the source column, makes `apply-layer` and
// `plan send` fail without printing the secret, in stdout or stderr.
// Before the fix the swapped line printed the secret in both.
func TestKeyringErrorsNeverPrintASecret(t *testing.T) {
	ae := newApplyEnv(t)
	line := strings.Fields(readFile(t, ae.keyFiles["exitbrain_v3_5"]))
	source, secret := line[0], line[1]
	for name, content := range map[string]string{
		"swapped":          secret + " " + source + "\n",
		"secret alone":     secret + "\n",
		"secret twice":     secret + " " + secret + "\n",
		"three columns":    source + " " + secret + " " + secret + "\n",
		"secret as source": secret[:40] + " " + secret + "\n",
		"short secret":     "ab" + secret[:30] + " zz\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			// A regression that accepts the keyring would start a daemon:
			// the deadline stops it and the test fails on its exit code.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			for _, r := range []result{
				ae.runIn(ctx, "", "apply-layer", "--redis", ae.rd.Server.URL(), "--metrics-addr", "", "--keyring", path, "--pubkey", ae.pub),
				ae.run("plan", "send", "--redis", ae.rd.Server.URL(), "--key-file", path, "--symbol", "BTCUSDT", "--side", "SELL", "--qty", "0.001"),
			} {
				if r.code == 0 {
					t.Fatalf("a broken keyring was accepted: %s%s", r.stdout, r.stderr)
				}
				all := r.stdout + r.stderr
				if !strings.Contains(all, "keyring line 1") {
					t.Errorf("the error does not name the line: %s", all)
				}
				for _, leak := range []string{secret[:16], secret[len(secret)-16:], secret[20:36]} {
					if strings.Contains(all, leak) {
						t.Fatalf("the secret is printed: %s", all)
					}
				}
			}
		})
	}
}
