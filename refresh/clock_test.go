package refresh_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

// TestClockSkew: the publisher, 105 minutes behind Redis, used to
// publish a policy with 15 minutes left and report success. Now it is
// refused (REFRESH_CLOCK_SKEW, audited, live policy untouched) with a
// critical CLOCK_SKEW; a 20-minute offset still publishes but warns; a
// clock 1 minute ahead is refused (readers would not accept the policy
// yet); a clock back in step resolves the alert. Offsets come from
// redischeck.ClockOffset against the real server with a shifted clock.
func TestClockSkew(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var shift time.Duration // how far this clock is from the true one
	cfg := f.cfg
	cfg.Now = func() time.Time { return time.Now().Add(shift) }
	cfg.RedisClock = func(ctx context.Context) (time.Duration, error) {
		c, err := redischeck.ClockOffset(ctx, f.env.Client, cfg.Now)
		return c.Offset, err
	}
	r := f.refresher(cfg)
	if _, err := r.Run(ctx); err != nil {
		t.Fatalf("in step: %v\n%s", err, f.log)
	}
	before := f.snapshot()

	for _, tc := range []struct {
		shift    time.Duration
		refused  bool
		severity string // the CLOCK_SKEW published, "" for none
	}{
		{-105 * time.Minute, true, alert.SeverityCritical},
		{time.Minute, true, ""}, // the incident is still firing: held
	} {
		shift = tc.shift
		rep, err := r.Run(ctx)
		if reason.CodeOf(err) != reason.RefreshClockSkew || rep.Code != reason.RefreshClockSkew {
			t.Fatalf("shift %s: %v, want REFRESH_CLOCK_SKEW", tc.shift, err)
		}
		if got := f.snapshot(); got != before {
			t.Fatalf("shift %s: the live policy changed", tc.shift)
		}
	}
	a := f.alertEntries()
	var skews []map[string]string
	for _, e := range a {
		if e["alert_type"] == alert.TypeClockSkew {
			skews = append(skews, e)
		}
	}
	if len(skews) != 1 || skews[0]["status"] != "firing" || skews[0]["severity"] != "critical" {
		t.Fatalf("CLOCK_SKEW alerts %v", skews)
	}
	if ms, err := strconv.ParseInt(skews[0]["offset_ms"], 10, 64); err != nil || ms < 6_299_000 || ms > 6_301_000 {
		t.Fatalf("offset_ms %q, want 105m = 6300000 within 1s", skews[0]["offset_ms"])
	}
	audit := f.audit()
	if last := audit[len(audit)-1]; last["result"] != "rejected" || last["reason"] != "REFRESH_CLOCK_SKEW" || !strings.Contains(last["detail"], "ahead of Redis TIME") {
		t.Fatalf("audit %v", last)
	}
	if n := strings.Count(f.log.String(), "behind Redis TIME: the policy would have 15m0s of validity"); n != 1 {
		t.Errorf("the 105m refusal does not say what remains (%d):\n%s", n, f.log)
	}

	// Back in step: published, CLOCK_SKEW resolved.
	shift = 0
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// 20 minutes behind: 1h40m left, enough; published with a warning.
	shift = -20 * time.Minute
	if _, err := r.Run(ctx); err != nil {
		t.Fatalf("20m behind refused: %v", err)
	}
	var got []string
	for _, e := range f.alertEntries() {
		if e["alert_type"] == alert.TypeClockSkew {
			got = append(got, e["status"]+"/"+e["severity"])
		}
	}
	if strings.Join(got, ",") != "firing/critical,resolved/warning,firing/warning" {
		t.Fatalf("CLOCK_SKEW history %v", got)
	}
}

// TestClockUnreadable: a TIME that fails refuses the run (fail closed).
func TestClockUnreadable(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.RedisClock = func(context.Context) (time.Duration, error) { return 0, errors.New("NOPERM time") }
	_, err := f.refresher(cfg).Run(context.Background())
	if reason.CodeOf(err) != reason.PolicyUnavailable || !strings.Contains(err.Error(), "Redis TIME") {
		t.Fatalf("%v", err)
	}
}

// TestInterruptedRuns: a record of a run that died on this host (a real
// process, exited), and one that started longer than Stale ago elsewhere,
// are audited as interrupted exactly once and removed; a recent run
// elsewhere is left alone; the run's own record is removed at its end.
func TestInterruptedRuns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	deadPID := exitedPID(t)
	key := f.env.Keys.RefreshRuns()
	now := f.clock.Now()
	rec := func(field string, started time.Time) {
		if err := f.env.Client.HSet(ctx, key, field, started.UnixMilli()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rec(host+"/"+itoa(deadPID)+"/1", now.Add(-time.Minute))
	rec("elsewhere/42/2", now.Add(-2*time.Hour))
	rec("elsewhere/43/3", now.Add(-10*time.Second))
	cfg := f.cfg
	cfg.Runs = refresh.RedisRuns{Redis: f.env.Client, Key: key, Stale: 2 * time.Minute}
	f.run(cfg)
	var interrupted []map[string]string
	for _, e := range f.audit() {
		if e["result"] == "interrupted" {
			interrupted = append(interrupted, e)
		}
	}
	if len(interrupted) != 2 || interrupted[0]["reason"] != "REFRESH_INTERRUPTED" {
		t.Fatalf("interrupted entries %v", interrupted)
	}
	left, err := f.env.Client.HKeys(ctx, key).Result()
	if err != nil || len(left) != 1 || left[0] != "elsewhere/43/3" {
		t.Fatalf("records left %v %v", left, err)
	}
	// A second run audits nothing new.
	f.clock.Advance(30 * time.Second)
	f.run(cfg)
	n := 0
	for _, e := range f.audit() {
		if e["result"] == "interrupted" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d interrupted entries after a second run, want 2", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// exitedPID returns the pid of a process that has exited and been reaped.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
