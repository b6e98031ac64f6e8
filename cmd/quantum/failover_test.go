package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
)

// loadWriter writes to a stream through the opener's client as fast as it
// can, confirming each entry with WAIT 1 (the replica has it), and records
// when writes started succeeding again after a failover.
type loadWriter struct {
	rdb    redis.UniversalClient
	stream string

	mu        sync.Mutex
	confirmed []string // ids WAIT said the replica holds
	acked     int      // XADD replies, confirmed or not
	errors    int
	oks       []ok // each acknowledged XADD
}

// ok is one acknowledged XADD: when it was sent and when its reply came.
type ok struct{ sent, acked time.Time }

func (lw *loadWriter) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		sent := time.Now()
		id, err := lw.rdb.XAdd(ctx, &redis.XAddArgs{Stream: lw.stream, Values: []any{"n", i}}).Result()
		if err != nil {
			lw.mu.Lock()
			lw.errors++
			lw.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			continue
		}
		acked := time.Now()
		n, werr := lw.rdb.Do(ctx, "WAIT", 1, 200).Int64()
		lw.mu.Lock()
		lw.acked++
		lw.oks = append(lw.oks, ok{sent, acked})
		if werr == nil && n >= 1 {
			lw.confirmed = append(lw.confirmed, id)
		}
		lw.mu.Unlock()
	}
}

// firstOKAfter returns how long after t0 the first write sent after t0 was
// acknowledged, or false when none was yet. With t0 the death of the
// primary, that write reached the promoted replica.
func (lw *loadWriter) firstOKAfter(t0 time.Time) (time.Duration, bool) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for _, o := range lw.oks {
		if o.sent.After(t0) {
			return o.acked.Sub(t0), true
		}
	}
	return 0, false
}

// TestSentinelFailover: a real primary, replica and three sentinels; the
// commands run against the redis+sentinel:// URL before and after a
// SIGKILL of the primary under load; the opener's client follows the
// promotion by itself (measured: SIGKILL to the first write the promoted
// replica accepted through it), every write the replica had confirmed is on
// the new primary, and a running `exit-owner watch --follow` process keeps
// working across the failover: a denial written afterwards raises its alert.
func TestSentinelFailover(t *testing.T) {
	ss := redistest.StartSentinels(t)
	ks := keys.MustNew(keys.DefaultPrefix)
	d := newDeployment(t, ss.URL(), "")
	h, key, pub, tmpl := d.harness, d.key, d.pub, d.tmpl
	refresh := func(seq int) {
		t.Helper()
		h.run("policy", "refresh", "--template", tmpl, "--key", key, "--pubkey", pub).want(t, 0, fmt.Sprintf("policy_seq=%d", seq))
		h.run("policy", "verify", "--pubkey", pub).want(t, 0, fmt.Sprintf("OK policy_version=1.0.0-ai-v1 policy_seq=%d", seq))
		h.run("exit-owner", "watch").want(t, 0, "[EXIT-OWNER-WATCH] clean")
	}
	refresh(1)

	// An apply layer, a process of its own, on the sentinel URL.
	apply := startProcess(t, d.applyLayerArgs()...)
	waitLog(t, &apply.out, `"msg":"apply layer consuming"`)
	sendPlan := func(wait time.Duration) {
		t.Helper()
		h.run("plan", "send", "--key-file", d.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "1",
			"--wait", wait.String()).want(t, 0, "EXECUTED")
	}
	sendPlan(10 * time.Second)

	follow := startProcess(t, "exit-owner", "watch", "--follow", "--redis", ss.URL())
	waitFor(t, &follow.out, "[EXIT-OWNER-WATCH] clean")

	rdb, err := redisconn.Open(ss.URL(), redisconn.Options{Prefix: ks.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The policy is replicated before the crash (the refresh does not WAIT).
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int64(); err != nil || n < 1 {
		t.Fatalf("WAIT 1: %d %v", n, err)
	}
	lw := &loadWriter{rdb: rdb, stream: ks.Key("test:load")}
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { lw.run(loadCtx); close(loadDone) }()
	eventually(t, 10*time.Second, "load running", func() (bool, string) {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return len(lw.confirmed) >= 50, fmt.Sprintf("%d confirmed", len(lw.confirmed))
	})

	old := ss.Primary.Addr()
	ss.Primary.Kill()
	killed := time.Now()
	promoted, err := ss.WaitPromoted(ctx, old)
	if err != nil {
		t.Fatalf("no promotion: %v", err)
	}
	promotedAfter := time.Since(killed)
	// The promise: the client follows by itself within 10 s of the crash.
	eventually(t, 10*time.Second-time.Since(killed), "a write through the sentinel URL after the SIGKILL", func() (bool, string) {
		_, ok := lw.firstOKAfter(killed)
		return ok, "none yet"
	})
	followed, _ := lw.firstOKAfter(killed)
	// The apply layer follows by itself: a plan sent now is executed, its
	// result back, within 10 s of the crash.
	sendPlan(10*time.Second - time.Since(killed))
	applied := time.Since(killed)
	stopLoad()
	<-loadDone
	t.Logf("SIGKILL of the primary %s: sentinels promoted %s after %s; the opener's client wrote to it %s after the SIGKILL (%d writes, %d confirmed by WAIT 1, %d failed during the failover); a plan sent then had its EXECUTED result from the apply layer %s after the SIGKILL",
		old, promoted, promotedAfter.Round(time.Millisecond), followed.Round(time.Millisecond), lw.acked, len(lw.confirmed), lw.errors, applied.Round(time.Millisecond))

	// Every write the replica had confirmed survived on the promoted one.
	np := ss.Replica.TCPClient()
	defer np.Close()
	msgs, err := np.XRange(ctx, lw.stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range msgs {
		have[m.ID] = true
	}
	lost := 0
	for _, id := range lw.confirmed {
		if !have[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d WAIT-confirmed writes missing on the promoted replica", lost, len(lw.confirmed))
	}

	// The commands work through the same URL after the failover.
	refresh(2)

	// The follow process survived the failover and still raises the alert.
	follow.running("watch --follow")
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ks.ApplyResult(), Values: []any{
		"plan_id", "after-failover", "source", "rogue", "symbol", "ETHUSDT", "reason", "DENY_NOT_EXIT_OWNER", "canary", "false",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "EXIT_OWNER_VIOLATION from the follow process after the failover", func() (bool, string) {
		a, err := np.XRange(ctx, ks.Alerts(), "-", "+").Result()
		for _, m := range a {
			if m.Values["first_plan_id"] == "after-failover" && m.Values["status"] == "firing" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d alerts, %v", len(a), err)
	})
	apply.running("apply layer")
	sendPlan(10 * time.Second)
	apply.stop("apply layer")
	follow.stop("watch --follow")
	if !strings.Contains(follow.out.String(), "follow stopped") {
		t.Fatalf("follow stderr:\n%s", follow.out.String())
	}
}

// process is this test binary re-executed as a long-running quantum
// command, killed when the test ends.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    syncBuffer // stdout and stderr
	exited chan error
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{t: t, cmd: quantumCommand(args...), exited: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

// running fails the test if the process has exited.
func (p *process) running(what string) {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.t.Fatalf("%s exited: %v\n%s", what, err, tail(p.out.String(), 30))
	default:
	}
}

// stop sends SIGTERM and wants exit 0 within 10 s.
func (p *process) stop(what string) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			p.t.Fatalf("%s exit after SIGTERM: %v\n%s", what, err, tail(p.out.String(), 30))
		}
	case <-time.After(10 * time.Second):
		p.t.Fatalf("%s: no exit within 10s of SIGTERM\n%s", what, tail(p.out.String(), 30))
	}
}
