package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// TestDev runs `quantum dev` on a free port, checks the policy it published
// from outside with a Redis client, tampers with it, and sees the verdict
// turn to a denial with a reason code.
func TestDev(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--port", "0", "--check-interval", "20ms"}, &env{
			stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		})
	}()
	waitFor(t, &out, "OK policy_seq=1 trading_state=ACTIVE")
	m := regexp.MustCompile(`miniredis\) on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no address in banner:\n%s", out.String())
	}
	c := redis.NewClient(&redis.Options{Addr: m[1]})
	defer c.Close()
	f, err := c.HGetAll(ctx, "quantum:policy:current").Result()
	if err != nil || f["policy_version"] != "1.0.0-dev" || f["signature"] == "" {
		t.Fatalf("policy seen from outside: %v %v", f, err)
	}
	if n, _ := c.XLen(ctx, "quantum:stream:policy.audit").Result(); n != 1 {
		t.Fatalf("audit entries: %d, want 1", n)
	}
	if err := c.HSet(ctx, "quantum:policy:current", "trading_state", "HALTED").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "DENY-ALL POLICY_HASH_MISMATCH")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev exited %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dev did not stop on cancel")
	}
	waitFor(t, &out, "quantum dev: stopped")
}
