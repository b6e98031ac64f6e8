package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/cli"
)

// waitFor polls out until it holds fragment or fails the test after 10s.
func waitFor(t *testing.T, out *syncBuffer, fragment string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), fragment) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output within 10s:\n%s", fragment, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// devRun is a `quantum dev` running in the background, and a client of its
// embedded Redis.
type devRun struct {
	t         *testing.T
	out, errb syncBuffer
	done      chan int
	cancel    context.CancelFunc
	client    *redis.Client
}

// startDev runs `quantum dev` with args and waits for its banner.
func startDev(t *testing.T, args ...string) *devRun {
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{t: t, done: make(chan int, 1), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		d.done <- cli.Run(ctx, append([]string{"dev"}, args...), &cli.Env{
			Stdin: strings.NewReader(""), Stdout: &d.out, Stderr: &d.errb, Getenv: func(string) string { return "" },
		})
	}()
	waitFor(t, &d.out, "Live policy verdict")
	m := regexp.MustCompile(`miniredis\) on (127\.0\.0\.1:\d+)`).FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("no address in banner:\n%s", d.out.String())
	}
	d.client = redis.NewClient(&redis.Options{Addr: m[1]})
	t.Cleanup(func() { d.client.Close() })
	return d
}

// stop cancels the command and wants it to exit 0.
func (d *devRun) stop() {
	d.t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		if code != 0 {
			d.t.Fatalf("dev exited %d: %s", code, d.errb.String())
		}
	case <-time.After(10 * time.Second):
		d.t.Fatal("dev did not stop on cancel")
	}
	waitFor(d.t, &d.out, "quantum dev: stopped")
}

// TestDev runs `quantum dev` on a free port, checks the policy it published
// from outside with a Redis client, tampers with it, and sees the verdict
// turn to a denial with a reason code.
func TestDev(t *testing.T) {
	ctx := context.Background()
	d := startDev(t, "--port", "0", "--rate", "0", "--check-interval", "20ms", "--watch-interval", "50ms")
	waitFor(t, &d.out, "OK policy_seq=1 trading_state=ACTIVE")
	f, err := d.client.HGetAll(ctx, "quantum:policy:current").Result()
	if err != nil || f["policy_version"] != "1.0.0-dev" || f["signature"] == "" {
		t.Fatalf("policy seen from outside: %v %v", f, err)
	}
	if n, _ := d.client.XLen(ctx, "quantum:stream:policy.audit").Result(); n != 1 {
		t.Fatalf("audit entries: %d, want 1", n)
	}
	if err := d.client.HSet(ctx, "quantum:policy:current", "trading_state", "HALTED").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &d.out, "DENY-ALL POLICY_HASH_MISMATCH")
	// The in-process exit-owner watch ran at start and left its heartbeat.
	waitFor(t, &d.errb, "[EXIT-OWNER-WATCH] clean")
	if h, err := d.client.HGetAll(ctx, "quantum:heartbeat:exit-owner-watch").Result(); err != nil || h["outcome"] != "clean" {
		t.Fatalf("watch heartbeat %v %v", h, err)
	}
	// A denial result: the watch's next run raises EXIT_OWNER_VIOLATION.
	if err := d.client.XAdd(ctx, &redis.XAddArgs{Stream: "quantum:stream:apply.result", Values: []any{
		"plan_id", "p1", "source", "rogue", "symbol", "BTCUSDT", "reason", "DENY_NOT_EXIT_OWNER", "canary", "false",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &d.errb, "[EXIT-OWNER-WATCH] alert published")
	if al, err := d.client.XRange(ctx, "quantum:stream:alerts", "-", "+").Result(); err != nil || len(al) != 1 || al[0].Values["alert_type"] != "EXIT_OWNER_VIOLATION" {
		t.Fatalf("alerts %v %v", al, err)
	}
	d.stop()
}

// TestDevRefreshLoop: with a short --refresh-interval the in-process refresh
// loop republishes the policy, the verdict follows the new seq, the audit
// trail grows, and a tampered policy is replaced by a later refresh.
func TestDevRefreshLoop(t *testing.T) {
	ctx := context.Background()
	d := startDev(t, "--port", "0", "--rate", "0", "--check-interval", "20ms", "--refresh-interval", "100ms")
	waitFor(t, &d.out, "refreshed    every 100ms by the in-process refresh loop")
	waitFor(t, &d.out, "OK policy_seq=3 trading_state=ACTIVE")
	if n, err := d.client.XLen(ctx, "quantum:stream:policy.audit").Result(); err != nil || n < 3 {
		t.Fatalf("audit entries: %d (%v), want at least 3", n, err)
	}
	waitFor(t, &d.errb, "[POLICY-REFRESH] POLICY_STATE: version=1.0.0-dev")
	waitFor(t, &d.errb, "[POLICY-REFRESH] POLICY_AUDIT: result=published")

	// Tamper; a later refresh publishes a good policy over it. (A refresh
	// may land between the read and the write, hence seq+2.)
	seq, err := d.client.HGet(ctx, "quantum:policy:current", "policy_seq").Int()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.client.HSet(ctx, "quantum:policy:current", "trading_state", "HALTED").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &d.out, fmt.Sprintf("OK policy_seq=%d trading_state=ACTIVE", seq+2))
	d.stop()
}

// eventually polls cond every 50ms until it holds or fails the test after
// limit, with what cond last said.
func eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, limit, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDevSubprocess runs `quantum dev` as a new user would (a separate
// process, stdout not a terminal), waits for its summary, and checks from
// outside with a Redis client that the simulated plans flow through the
// apply layer, that a rogue exit produced an EXIT_OWNER_VIOLATION alert,
// and that the in-process refresh republished the policy.
func TestDevSubprocess(t *testing.T) {
	cmd := quantumCommand("dev", "--port", "0", "--rate", "8", "--summary-interval", "300ms",
		"--watch-interval", "500ms", "--refresh-interval", "1s")
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})
	eventually(t, 60*time.Second, "summary", func() (bool, string) {
		return strings.Contains(out.String(), "=== quantum dev summary"), out.String() + errb.String()
	})
	m := regexp.MustCompile(`miniredis\) on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no address in banner:\n%s", out.String())
	}
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: m[1]})
	defer rdb.Close()

	// Plans flow: entries and owner exits executed, rogue plans denied
	// for ownership and for authentication.
	eventually(t, 30*time.Second, "results", func() (bool, string) {
		msgs, err := rdb.XRange(ctx, "quantum:stream:apply.result", "-", "+").Result()
		if err != nil {
			return false, err.Error()
		}
		seen := map[string]bool{}
		for _, r := range msgs {
			seen[fmt.Sprint(r.Values["decision"])+"/"+fmt.Sprint(r.Values["source"])] = true
			seen[fmt.Sprint(r.Values["reason"])] = true
		}
		ok := seen["EXECUTED/intent_bridge"] && seen["EXECUTED/exitbrain_v3_5"] &&
			seen["DENY_NOT_EXIT_OWNER"] && seen["AUTH_INVALID"] && seen["AUTH_MISSING"]
		return ok, fmt.Sprint(seen)
	})
	// The rogue's denial raised the alert.
	eventually(t, 30*time.Second, "EXIT_OWNER_VIOLATION alert", func() (bool, string) {
		al, err := rdb.XRange(ctx, "quantum:stream:alerts", "-", "+").Result()
		for _, a := range al {
			if a.Values["alert_type"] == "EXIT_OWNER_VIOLATION" && a.Values["status"] == "firing" {
				return true, ""
			}
		}
		return false, fmt.Sprint(al, err)
	})
	// The refresh republished the policy, and it is audited.
	eventually(t, 30*time.Second, "policy refreshed", func() (bool, string) {
		seq, err := rdb.HGet(ctx, "quantum:policy:current", "policy_seq").Int()
		n, _ := rdb.XLen(ctx, "quantum:stream:policy.audit").Result()
		return err == nil && seq >= 2 && n >= 2, fmt.Sprintf("seq %d audit %d %v", seq, n, err)
	})
	// The summary reports what the stream holds.
	eventually(t, 30*time.Second, "summary contents", func() (bool, string) {
		s := out.String()
		i := strings.LastIndex(s, "=== quantum dev summary")
		last := s[i:]
		return strings.Contains(last, "EXIT_OWNER_VIOLATION firing") && strings.Contains(last, "EXECUTED") &&
			strings.Contains(last, "DENY_NOT_EXIT_OWNER"), last
	})

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("dev exited with %v\n%s", err, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not stop on SIGINT")
	}
	if !strings.Contains(out.String(), "quantum dev: stopped") {
		t.Fatalf("no stop line:\n%s", out.String())
	}
}

// TestDevRaisesNoFalseTamperAlert: under quantum dev's traffic on the
// embedded server (whose XINFO counters are not Redis's), the plan stream
// check finds nothing: a false PLAN_STREAM_TAMPERED would teach newcomers
// to ignore the real one. (It fired in the first hours of the check.)
func TestDevRaisesNoFalseTamperAlert(t *testing.T) {
	d := startDev(t, "--port", "0", "--rate", "40", "--check-interval", "50ms", "--watch-interval", "0", "--refresh-interval", "0")
	time.Sleep(3 * time.Second)
	d.stop()
	if strings.Contains(d.errb.String()+d.out.String(), "PLAN_STREAM_TAMPERED") {
		t.Fatalf("a false PLAN_STREAM_TAMPERED under dev traffic:\n%s", d.errb.String())
	}
}
