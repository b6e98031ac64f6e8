package producer

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/plan"
)

// TestLoadSigner: a key file gives its one source and secret; a file others
// can read, one with two lines and one that is no keyring are refused, the
// secret never in the error.
func TestLoadSigner(t *testing.T) {
	dir := t.TempDir()
	line, err := plan.KeygenLine("manual_close")
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Fields(line)[1]
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := LoadSigner(write("ok.key", line+"\n", 0o600))
	if err != nil || s.Source != "manual_close" || len(s.Secret) == 0 {
		t.Fatalf("LoadSigner: %+v, %v", s, err)
	}
	other, _ := plan.KeygenLine("emergency_stop")
	for name, path := range map[string]string{
		"world-readable": write("open.key", line+"\n", 0o644),
		"two lines":      write("two.key", line+"\n"+other+"\n", 0o600),
		"not a keyring":  write("bad.key", "manual_close\n", 0o600),
		"missing":        filepath.Join(dir, "none.key"),
	} {
		if _, err := LoadSigner(path); err == nil {
			t.Errorf("%s: loaded", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the secret is in the error: %v", name, err)
		}
	}
}

// TestNewPlanID: prefix, unix milliseconds, 8 hex digits; two ids of one
// millisecond differ.
func TestNewPlanID(t *testing.T) {
	now := time.UnixMilli(1700000000123)
	a, b := NewPlanID("send", now), NewPlanID("send", now)
	if !regexp.MustCompile(`^send-1700000000123-[0-9a-f]{8}$`).MatchString(a) || a == b {
		t.Fatalf("ids %q %q", a, b)
	}
}
