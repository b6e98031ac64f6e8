package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/keys"
)

// TestDevSummary: the summary block of a fresh dev (embedded Redis, no
// traffic) says the policy verifies, no plan, no alert, flat; a tampered
// policy turns the verdict to DENY-ALL at once, never a default.
func TestDevSummary(t *testing.T) {
	ctx := context.Background()
	d, err := StartDev(ctx, DevOptions{Port: 0, Keys: keys.MustNew("quantum"), Validity: time.Hour, Now: time.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var b bytes.Buffer
	if err := d.summary(ctx, &b, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"=== quantum dev summary ", "verdict      OK policy_seq=1 trading_state=ACTIVE valid for 59m0s\n",
		"plans        0\n", "denials      none\n", "alerts       none firing\n", "positions    flat\n", " 0 plan(s) pending\n", "===\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if err := d.Redis.HSet(ctx, d.Keys.PolicyCurrent(), "trading_state", "HALTED").Err(); err != nil {
		t.Fatal(err)
	}
	if v := d.verdict(ctx, time.Now()); !strings.HasPrefix(v, "DENY-ALL POLICY_HASH_MISMATCH") {
		t.Errorf("verdict of a tampered policy: %s", v)
	}
}

// TestDevShow: off a terminal, Show prints the banner once, a verdict line
// when the verdict changes and summary blocks, and ends with the stop line
// when its context ends.
func TestDevShow(t *testing.T) {
	d, err := StartDev(context.Background(), DevOptions{Port: 0, Keys: keys.MustNew("quantum"), Validity: time.Hour, Now: time.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuf // alerts_forward_test.go
	done := make(chan struct{})
	go func() {
		d.Show(ctx, DevScreen{Out: &out, CheckEvery: 10 * time.Millisecond, SummaryEvery: 30 * time.Millisecond})
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "=== quantum dev summary") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two summaries in 10s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	s := out.String()
	for _, want := range []string{"quantum dev: embedded Redis (miniredis) on 127.0.0.1:", "refreshed    off (--refresh-interval 0)",
		"traffic      off (--rate 0)", "Live policy verdict, as the apply layer would see it:\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("banner lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "OK policy_seq=1 trading_state=ACTIVE"); n < 3 { // one verdict line, one per summary
		t.Errorf("verdict printed %d times, want once and once per summary:\n%s", n, s)
	}
	if strings.Count(s, "Live policy verdict") != 1 || !strings.HasSuffix(s, "quantum dev: stopped\n") {
		t.Errorf("banner not once, or no stop line at the end:\n%s", s)
	}
}
