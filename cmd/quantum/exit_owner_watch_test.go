package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redistest"
)

// watchEnv is a test prefix with an injected clock, for the watch commands.
type watchEnv struct {
	*harness
	rd  *redistest.Env
	now time.Time
}

func newWatchEnv(t *testing.T) *watchEnv {
	rd := redistest.New(t)
	we := &watchEnv{rd: rd, now: time.UnixMilli(1_780_000_000_500)}
	we.harness = newHarness(t, map[string]string{"QUANTUM_REDIS_URL": rd.Server.URL(), "QUANTUM_PREFIX": rd.Keys.Prefix()})
	we.harness.now = func() time.Time { return we.now }
	return we
}

// deny writes a DENY_NOT_EXIT_OWNER result msAgo milliseconds before the
// clock, with an explicit stream id.
func (we *watchEnv) deny(msAgo int64, planID, canary string) {
	we.t.Helper()
	id := fmt.Sprintf("%d-0", we.now.UnixMilli()-msAgo)
	source := "ai_engine"
	if canary == "true" {
		source = "quantum_proof" // the only source whose canaries count apart
	}
	if err := we.rd.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: we.rd.Keys.ApplyResult(), ID: id, Values: []any{
		"plan_id", planID, "source", source, "symbol", "BTCUSDT", "decision", "DENIED", "executed", "false",
		"reason", "DENY_NOT_EXIT_OWNER", "error", "DENY_NOT_EXIT_OWNER", "canary", canary, "consumer", "c1",
	}}).Err(); err != nil {
		we.t.Fatal(err)
	}
}

func (we *watchEnv) alerts() []map[string]string {
	return redistest.StreamEntries(we.t, we.rd.Client, we.rd.Keys.Alerts())
}

// TestExitOwnerWatch: exit 1 with the alert published, exit 1 saying it is
// held on a rerun inside the repeat interval, exit 0 with one resolved
// alert once the window is clean; a denial just older than the window does
// not count; canaries never alert.
func TestExitOwnerWatch(t *testing.T) {
	we := newWatchEnv(t)
	we.run("exit-owner", "watch").want(t, 0, "[EXIT-OWNER-WATCH] clean: no DENY_NOT_EXIT_OWNER in the last 5min", "no result stream under this prefix")

	we.deny(5*60_000+1, "too-old", "false")
	we.deny(4*60_000, "canary-1", "true")
	we.run("exit-owner", "watch").want(t, 0, "clean", "1 canary denials counted apart")
	if al := we.alerts(); len(al) != 0 {
		t.Fatalf("alerts %v: the old denial and the canary must not alert", al)
	}

	we.deny(2*60_000, "p1", "false")
	we.deny(500, "p2", "false")
	r := we.run("exit-owner", "watch")
	r.want(t, 1, "[EXIT-OWNER-WATCH] DENIALS: deny_count=2 window=5min sources=ai_engine symbols=BTCUSDT first_plan_id=p1 last_plan_id=p2",
		"alert published (fired) alert_id="+alert.Fingerprint(alert.TypeExitOwnerViolation, nil)+"-1")
	al := we.alerts()
	if len(al) != 1 || al[0]["status"] != "firing" || al[0]["deny_count"] != "2" || al[0]["timestamp"] != "1780000000" {
		t.Fatalf("alerts %v", al)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout+r.stderr), "\n") {
		if !strings.Contains(line, "[EXIT-OWNER-WATCH]") {
			t.Errorf("line without [EXIT-OWNER-WATCH]: %s", line)
		}
	}

	// A rerun a minute later: denials found, nothing published, and it says so.
	we.now = we.now.Add(time.Minute)
	r = we.run("exit-owner", "watch")
	r.want(t, 1, "deny_count=2", "alert held back by the repeat interval", "next notification due 2026-05-28T21:26:40Z")
	if strings.Contains(r.stdout, "alert published") || len(we.alerts()) != 1 {
		t.Fatalf("a held run published: %s %v", r.stdout, we.alerts())
	}
	var out map[string]any
	r = we.run("exit-owner", "watch", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out["outcome"] != "denials" || out["alert"] != "held" || out["deny_count"] != 2.0 {
		t.Fatalf("--json: exit %d %v %s", r.code, err, r.stdout)
	}

	// Ten minutes later the window is clean: one resolved alert, then nothing.
	we.now = we.now.Add(10 * time.Minute)
	we.run("exit-owner", "watch").want(t, 0, "clean", "resolved alert published alert_id=")
	we.run("exit-owner", "watch").want(t, 0, "clean")
	if al := we.alerts(); len(al) != 2 || al[1]["status"] != "resolved" || al[1]["alert_id"] != al[0]["alert_id"] {
		t.Fatalf("alerts %v", al)
	}
	h, err := we.rd.Client.HGetAll(context.Background(), we.rd.Keys.Heartbeat("exit-owner-watch")).Result()
	if err != nil || h["outcome"] != "clean" || h["last_run_at"] != fmt.Sprint(we.now.Unix()) {
		t.Fatalf("heartbeat %v %v", h, err)
	}

	// --window from the environment, and a flag overrides it.
	we.env["QUANTUM_WATCH_WINDOW"] = "15m"
	we.run("exit-owner", "watch").want(t, 1, "deny_count=2 window=15min", "alert published (fired)")
	we.run("exit-owner", "watch", "--window", "5m").want(t, 0, "clean", "resolved alert published")
}

// TestExitOwnerWatchCannotCheck: Redis down, a missing permission or a
// result stream of the wrong type exit 2, and never say clean or held.
func TestExitOwnerWatchCannotCheck(t *testing.T) {
	we := newWatchEnv(t)
	check := func(r result, fragments ...string) {
		t.Helper()
		r.want(t, 2, append([]string{"[EXIT-OWNER-WATCH] FAILED (exit 2)"}, fragments...)...)
		for _, bad := range []string{"dedupe", "held", "clean"} {
			if strings.Contains(r.stdout+r.stderr, bad) {
				t.Fatalf("a failure reported as %q:\n%s%s", bad, r.stdout, r.stderr)
			}
		}
	}
	check(we.run("exit-owner", "watch", "--redis", "redis://127.0.0.1:1/0"), "could not read", "connection refused")

	// A user that may not read streams.
	ctx := context.Background()
	user := "watch-" + we.rd.Keys.Prefix()
	if err := we.rd.Client.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "-xrange").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { we.rd.Client.Do(context.Background(), "ACL", "DELUSER", user) })
	we.deny(1000, "p1", "false")
	check(we.run("exit-owner", "watch", "--redis", "unix://"+user+":pw@"+we.rd.Server.Socket()), "NOPERM")
	if len(we.alerts()) != 0 {
		t.Fatal("a failed check published")
	}

	we.rd.Client.Del(ctx, we.rd.Keys.ApplyResult())
	we.rd.Client.Set(ctx, we.rd.Keys.ApplyResult(), "not a stream", 0)
	check(we.run("exit-owner", "watch"), "WRONGTYPE")
}

func TestExitOwnerWatchUsage(t *testing.T) {
	we := newWatchEnv(t)
	we.run("exit-owner", "watch", "--window", "0").want(t, 2, "at least 1s")
	we.run("exit-owner", "watch", "--follow", "--json").want(t, 2, "not with --follow")
	we.run("exit-owner", "watch", "--bogus").want(t, 2, "quantum help exit-owner watch")
	we.env["QUANTUM_ALERT_REPEAT_INTERVAL"] = "hourly"
	we.run("exit-owner", "watch").want(t, 2, `QUANTUM_ALERT_REPEAT_INTERVAL="hourly"`)
	we.run("exit-owner", "watch", "--repeat-interval", "1h").want(t, 0, "clean")
	we.run("help", "exit-owner", "watch").want(t, 0, "Exit status: 0 no denials in the window; 1 denials found",
		"QUANTUM_WATCH_WINDOW", "QUANTUM_ALERT_REPEAT_INTERVAL", "QUANTUM_WATCH_INTERVAL", "--follow")
	we.run("exit-owner").want(t, 2, "exit-owner watch")
}

// TestExitOwnerWatchFollow runs `quantum exit-owner watch --follow` as a
// process: a denial written while it runs raises the alert; SIGTERM stops
// it with exit 0.
func TestExitOwnerWatchFollow(t *testing.T) {
	rd := redistest.New(t)
	cmd := quantumCommand("exit-owner", "watch", "--follow", "--redis", rd.Server.URL(), "--prefix", rd.Keys.Prefix())
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, &errb, "[EXIT-OWNER-WATCH] clean")

	ctx := context.Background()
	start := time.Now()
	if err := rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: rd.Keys.ApplyResult(), Values: []any{
		"plan_id", "p1", "source", "rogue", "symbol", "ETHUSDT", "reason", "DENY_NOT_EXIT_OWNER", "canary", "false",
	}}).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := rd.Client.XRead(ctx, &redis.XReadArgs{Streams: []string{rd.Keys.Alerts(), "0-0"}, Count: 1, Block: 10 * time.Second}).Result()
	if err != nil {
		t.Fatalf("no alert within 10s: %v\n%s", err, errb.String())
	}
	t.Logf("follow process: denial XADD returned to alert read: %s", time.Since(start))
	if v := res[0].Messages[0].Values; v["status"] != "firing" || v["first_plan_id"] != "p1" || v["symbols"] != "ETHUSDT" {
		t.Fatalf("alert %v", v)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "[EXIT-OWNER-WATCH] follow stopped") {
		t.Fatalf("stderr:\n%s", errb.String())
	}
}

// TestExitOwnerWatchScript: the ledger's wrapper reads quantum.env for the
// variables not already set, runs the binary and passes its exit code on.
func TestExitOwnerWatchScript(t *testing.T) {
	we := newWatchEnv(t)
	we.now = time.Now()
	we.deny(1000, "p1", "false")
	envFile := writeFile(t, t.TempDir(), "quantum.env", fmt.Sprintf(
		"# test\nQUANTUM_REDIS_URL=%s\nQUANTUM_PREFIX=wrong-prefix\nQUANTUM_WATCH_WINDOW=\"2m\"\nNOT_OURS=1\n", we.rd.Server.URL()))
	bin := quantumCommand().Path
	cmd := exec.Command("../../scripts/exit_owner_watch.sh", "--json")
	cmd.Env = append(os.Environ(), "QUANTUM_TEST_RUN_MAIN=1", "QUANTUM_BIN="+bin, "QUANTUM_ENV_FILE="+envFile,
		"QUANTUM_PREFIX="+we.rd.Keys.Prefix()) // exported: wins over the file
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("script: %v, want exit 1\n%s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal(out, &rep); err != nil || rep["deny_count"] != 1.0 || rep["window"] != "2min" {
		t.Fatalf("script output %s (%v)", out, err)
	}
}
