package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPythonProducerPackage runs clients/python's tests with Debian's
// python3 and redis-py against a real apply layer on a real redis-server:
// an intent_bridge-shaped entry with the float quantity str(usd*lev/price)
// executes with the quantity rounded down to the step; the exit owner's
// close executes; a non-owner close is denied; str() of a small float
// (exponent notation) and a fractional leverage, signed as written,
// execute rounded down; results parse into the typed Result. None of its tests may be skipped here. The package signs
// quantum-plan/v2, what the apply layer accepts by default; its signer is
// also checked offline against the worked example of docs/producers.md.
func TestPythonProducerPackage(t *testing.T) {
	requirePython(t)
	ae := newApplyEnv(t)
	logs := runDaemon(t, ae.harness, ae.daemonArgs("--paper-price", "ETHUSDT=3000", "--paper-step", "ETHUSDT=0.00001")...)
	waitFor(t, logs, "apply layer consuming")
	cmd := exec.Command(python3, "-m", "unittest", "discover", "-v", "-s", "tests")
	cmd.Dir = "../../clients/python"
	cmd.Env = append(os.Environ(), "PYTHONPATH=.", "PYTHONDONTWRITEBYTECODE=1",
		"QUANTUM_TEST_REDIS_URL=unix://"+ae.rd.Server.Socket(), "QUANTUM_TEST_PREFIX="+ae.rd.Keys.Prefix(),
		"QUANTUM_TEST_KEYS_DIR="+ae.dir, "QUANTUM_TEST_ENCODING=v2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python tests: %v\n%s\napply layer:\n%s", err, out, logs)
	}
	// pip install ./clients/python works offline with only redis-py, from a copy (a build writes
	// egg-info next to the sources).
	src, target := t.TempDir(), t.TempDir()
	if out, err := exec.Command("cp", "-r", "../../clients/python/.", src).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	pip := exec.Command(python3, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--target", target, src)
	if out, err := pip.CombinedOutput(); err != nil {
		t.Fatalf("pip install ./clients/python: %v\n%s", err, out)
	}
	imp := exec.Command(python3, "-c", "import quantum_producer, sys; print(quantum_producer.format_qty(100*10/65000, '0.001'))")
	imp.Dir, imp.Env = t.TempDir(), append(os.Environ(), "PYTHONPATH="+target)
	if got, err := imp.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "0.015" {
		t.Fatalf("the installed package: %v %s", err, got)
	}
	if s := string(out); strings.Contains(s, "skipped") || !strings.Contains(s, "Ran 9 tests") || strings.Count(s, ") ... ok") != 9 {
		t.Fatalf("python tests skipped or missing:\n%s", s)
	}
}
