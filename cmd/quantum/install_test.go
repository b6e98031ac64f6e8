package main

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
)

// TestInstallScriptOnAScratchRoot runs deploy/install.sh (the README's
// production steps) under a scratch root, with this test binary as the
// quantum binary and owners left alone, and checks each step's effect: the
// directories exist before the keys with modes the units can read (not
// keygen's 0700), every file has its documented mode, every path the
// example environment and the units name exists, the keys and the keyring
// load as the services load them, each unit has its own Redis user, and a
// second run overwrites no key or secret.
func TestInstallScriptOnAScratchRoot(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(t.TempDir(), "quantum")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	install := func() {
		t.Helper()
		cmd := exec.Command("sh", filepath.Join("..", "..", "deploy", "install.sh"))
		cmd.Env = append(os.Environ(), "ROOT="+root, "QUANTUM_INSTALL_NO_CHOWN=1", "QUANTUM_BIN_SRC="+bin, "QUANTUM_TEST_RUN_MAIN=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install.sh: %v\n%s", err, out)
		}
	}
	install()
	p := func(s string) string { return filepath.Join(root, s) }
	for path, mode := range map[string]fs.FileMode{
		"usr/local/bin/quantum": 0o755, "etc/quantum": 0o750 | fs.ModeDir, "etc/quantum/keys": 0o750 | fs.ModeDir,
		"etc/quantum/quantum.env": 0o640, "etc/quantum/policy.json": 0o640, "etc/quantum/keys/policy.key": 0o600,
		"etc/quantum/keys/policy.pub": 0o644, "etc/quantum/keyring": 0o600, "etc/quantum/result.key": 0o600, "etc/quantum/producers": 0o700 | fs.ModeDir,
		"etc/quantum/producers/exitbrain_v3_5.key": 0o600, "etc/quantum/producers/manual_close.key": 0o600,
		"etc/quantum/redis-apply-layer.env": 0o640, "etc/quantum/redis-refresh.env": 0o640, "etc/quantum/redis-watch.env": 0o640,
		"etc/systemd/system/quantum-apply-layer.service": 0o644, "etc/systemd/system/quantum-policy-refresh.timer": 0o644,
		"etc/systemd/system/quantum-apply-layer.service.d/redis-user.conf": 0o644,
	} {
		st, err := os.Stat(p(path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if got := st.Mode() & (fs.ModePerm | fs.ModeDir); got != mode {
			t.Errorf("%s: mode %v, want %v", path, got, mode)
		}
	}
	// Every absolute path of the example environment and the units exists.
	for _, f := range []string{"etc/quantum/quantum.env", "etc/systemd/system/quantum-apply-layer.service", "etc/systemd/system/quantum-apply-layer.service.d/redis-user.conf"} {
		fh, err := os.Open(p(f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			_, v, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(line, "#") || !strings.HasPrefix(v, "/etc/") {
				continue
			}
			for _, path := range strings.Split(v, ",") {
				if _, err := os.Stat(p(strings.Fields(path)[0])); err != nil {
					t.Errorf("%s names %s, not installed: %v", f, path, err)
				}
			}
		}
		fh.Close()
	}
	if _, err := policy.LoadPrivateKey(p("etc/quantum/keys/policy.key")); err != nil {
		t.Errorf("the refresh could not load its key: %v", err)
	}
	if _, err := policy.LoadTrustedKeys(p("etc/quantum/keys/policy.pub")); err != nil {
		t.Errorf("readers could not load the public key: %v", err)
	}
	if _, err := plan.LoadResultKey(p("etc/quantum/result.key")); err != nil {
		t.Errorf("the apply layer could not load the result key: %v", err)
	}
	ring, err := plan.LoadSecrets(p("etc/quantum/keyring"))
	if err != nil {
		t.Fatalf("the apply layer could not load the keyring: %v", err)
	}
	if got := strings.Join(ring.Sources(), ","); !strings.Contains(got, "exitbrain_v3_5") || !strings.Contains(got, "manual_close") || !strings.Contains(got, "emergency_stop") {
		t.Errorf("keyring sources %s", got)
	}
	if b, _ := os.ReadFile(p("etc/quantum/redis-apply-layer.env")); !strings.Contains(string(b), "redis://quantum-apply-layer:") {
		t.Errorf("the apply layer's Redis user: %s", b)
	}
	if b, _ := os.ReadFile(p("etc/systemd/system/quantum-policy-refresh.service.d/redis-user.conf")); !strings.Contains(string(b), "EnvironmentFile=/etc/quantum/redis-refresh.env") {
		t.Errorf("the refresh's drop-in: %s", b)
	}
	key1, _ := os.ReadFile(p("etc/quantum/keys/policy.key"))
	ring1, _ := os.ReadFile(p("etc/quantum/keyring"))
	install()
	key2, _ := os.ReadFile(p("etc/quantum/keys/policy.key"))
	ring2, _ := os.ReadFile(p("etc/quantum/keyring"))
	if string(key1) != string(key2) || string(ring1) != string(ring2) {
		t.Fatal("a second run replaced a key or the keyring")
	}
}
