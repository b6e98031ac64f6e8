package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processGone reports whether pid has exited (gone, or a zombie awaiting
// its reaper).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestRefreshKilled: `quantum policy refresh` (this test binary re-executed)
// is SIGKILLed while its generator runs. The generator and its child die
// with it (process group, Pdeathsig), and the next run records the killed
// one in the audit trail (result=interrupted, REFRESH_INTERRUPTED) before
// publishing. Trials: 20 kills, each checked.
func TestRefreshKilled(t *testing.T) {
	const trials = 20
	pe := newPolicyEnv(t)
	ctx := context.Background()
	for trial := range trials {
		pidFile := filepath.Join(pe.dir, fmt.Sprintf("gen%d.pid", trial))
		// The generator's child is the one that would outlive a plain kill.
		gen := fmt.Sprintf("sleep 300 & echo $! > %s; wait", pidFile)
		cmd := quantumCommand("policy", "refresh", "--generator", gen, "--key", pe.key, "--pubkey", pe.pub,
			"--redis", pe.rd.Server.URL(), "--prefix", pe.rd.Keys.Prefix())
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var child int
		eventually(t, 10*time.Second, "the generator's child pid", func() (bool, string) {
			b, err := os.ReadFile(pidFile)
			if err != nil || !strings.HasSuffix(string(b), "\n") {
				return false, fmt.Sprint(err)
			}
			child, err = strconv.Atoi(strings.TrimSpace(string(b)))
			return err == nil, fmt.Sprint(err)
		})
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		eventually(t, 5*time.Second, fmt.Sprintf("trial %d: generator child %d gone after the SIGKILL of the refresh", trial, child), func() (bool, string) {
			return processGone(child), "still running"
		})
		if n, err := pe.rd.Client.HLen(ctx, pe.rd.Keys.RefreshRuns()).Result(); err != nil || n != 1 {
			t.Fatalf("trial %d: %d run records after the kill (%v), want the killed run's", trial, n, err)
		}

		r := pe.run("policy", "refresh", "--template", pe.policyFile, "--key", pe.key, "--pubkey", pe.pub)
		r.want(t, 0, fmt.Sprintf("policy_seq=%d", trial+1), "POLICY_AUDIT: result=interrupted reason=REFRESH_INTERRUPTED")
		audit := pe.auditEntries()
		if len(audit) != 2*(trial+1) {
			t.Fatalf("trial %d: %d audit entries, want %d", trial, len(audit), 2*(trial+1))
		}
		if e := audit[len(audit)-2]; e["result"] != "interrupted" || e["reason"] != "REFRESH_INTERRUPTED" || !strings.Contains(e["detail"], "never finished") {
			t.Fatalf("trial %d: audit %v", trial, e)
		}
		if n, err := pe.rd.Client.HLen(ctx, pe.rd.Keys.RefreshRuns()).Result(); err != nil || n != 0 {
			t.Fatalf("trial %d: %d run records after a finished run (%v)", trial, n, err)
		}
	}
}
