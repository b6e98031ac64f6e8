package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
)

// applyEnv is a deployment in a test prefix: a published policy, a keyring
// with a producer, the owner and a rogue, and key-line files for each.
type applyEnv struct {
	*policyEnv
	keyring  string
	keyFiles map[string]string
}

func newApplyEnv(t *testing.T) *applyEnv {
	pe := newPolicyEnv(t)
	ae := &applyEnv{policyEnv: pe, keyFiles: map[string]string{}}
	var lines []string
	for _, src := range []string{"intent_bridge", "exitbrain_v3_5", "rogue"} {
		r := pe.run("plan", "keygen", "--source", src)
		r.want(t, 0, src+" ")
		lines = append(lines, strings.TrimSpace(r.stdout))
		ae.keyFiles[src] = filepath.Join(pe.dir, src+".key")
		if err := os.WriteFile(ae.keyFiles[src], []byte(r.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ae.keyring = filepath.Join(pe.dir, "keyring")
	if err := os.WriteFile(ae.keyring, []byte("# test keyring\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	policyFile := writeFile(t, pe.dir, "sol.json", strings.Replace(samplePolicy, `"ETHUSDT"]`, `"ETHUSDT", "SOLUSDT"]`, 1))
	policyFile = writeFile(t, pe.dir, "sol.json", strings.Replace(readFile(t, policyFile), `"ETHUSDT": 6}`, `"ETHUSDT": 6, "SOLUSDT": 5}`, 1))
	pe.run("policy", "publish", policyFile, "--key", pe.key).want(t, 0)
	return ae
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (ae *applyEnv) daemonArgs(extra ...string) []string {
	// The test servers have no persistence: allowed, as the flag says, for tests only.
	return append([]string{"apply-layer", "--redis", ae.rd.Server.URL(), "--prefix", ae.rd.Keys.Prefix(), "--allow-unsafe-redis",
		"--keyring", ae.keyring, "--pubkey", ae.pub, "--paper-price", "SOLUSDT=150", "--paper-price", "BTCUSDT=65000",
		"--metrics-addr", "", "--log-format", "json"}, extra...)
}

// TestPlanSendThroughDaemon: quantum plan send --wait against a running
// apply-layer, in-process.
func TestPlanSendThroughDaemon(t *testing.T) {
	ae := newApplyEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, append(ae.daemonArgs(), "--metrics-addr", "127.0.0.1:0"), &cli.Env{
			Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs, Getenv: func(string) string { return "" },
		})
	}()
	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "2", "--wait", "10s").
		want(t, 0, "decision", "EXECUTED", "filled_qty", "avg_price")
	ae.run("plan", "send", "--key-file", ae.keyFiles["rogue"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "2", "--reduce-only", "--wait", "10s").
		want(t, 1, "DENIED", "DENY_NOT_EXIT_OWNER")
	ae.run("plan", "send", "--key-file", ae.keyFiles["exitbrain_v3_5"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "2", "--reduce-only", "--canary", "--wait", "10s").
		want(t, 1, "DENIED", "PLAN_CANARY_NOT_PROOF_SOURCE") // only the proof source sends canaries
	ae.run("plan", "send", "--key-file", ae.keyFiles["exitbrain_v3_5"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "2", "--reduce-only", "--wait", "10s", "--json").
		want(t, 0, `"decision": "EXECUTED"`)
	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "SIDEWAYS", "--qty", "2").
		want(t, 2, "field side")
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("apply-layer exited %d:\n%s", code, logs.String())
	}
	for _, want := range []string{`"msg":"apply layer consuming"`, `DENY_NOT_EXIT_OWNER symbol=SOLUSDT source=rogue plan_id=`, `"msg":"apply layer stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("daemon log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestApplyLayerRefusesBadConfig(t *testing.T) {
	ae := newApplyEnv(t)
	base := []string{"apply-layer", "--redis", ae.rd.Server.URL(), "--metrics-addr", "", "--allow-unsafe-redis"}
	ae.run(append(base, "--pubkey", ae.pub)...).want(t, 2, "--keyring FILE")
	ae.run(append(base, "--keyring", ae.keyring)...).want(t, 2, "--pubkey FILE")
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub, "--auth", "maybe")...).want(t, 2, "--auth")
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub, "--exchange", "binance")...).want(t, 2, "QUANTUM_BINANCE_API_KEY")
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub, "--exchange", "kraken")...).want(t, 2, "want paper or binance")
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub, "--paper-price", "BTC=abc")...).want(t, 2, "--paper-price")
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub, "--break-glass", "nobody")...).want(t, 2, "no key in the keyring")
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub, "--record-ttl", "2h", "--paper-order-retention", "1h")...).want(t, 2, "--paper-order-retention 1h0m0s is shorter than --record-ttl")
	ae.env["QUANTUM_EXCHANGE"] = "kraken"
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub)...).want(t, 2, "kraken")
	ae.env["QUANTUM_EXCHANGE"] = ""
	ae.env["QUANTUM_PAPER_PRICES"] = "BTCUSDT=65000,NOPE"
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub)...).want(t, 2, "--paper-price")
	ae.env["QUANTUM_PAPER_PRICES"] = ""
	if err := os.Chmod(ae.keyring, 0o644); err != nil {
		t.Fatal(err)
	}
	ae.run(append(base, "--keyring", ae.keyring, "--pubkey", ae.pub)...).want(t, 2, "chmod 600")
	ae.run("plan", "keygen", "--source", "bad source").want(t, 2, "--source")
}

// TestCrashUnderLoad runs the apply layer as a subprocess under load and
// SIGKILLs it at random moments, at least 20 times, restarting it each
// time. Afterwards every plan has exactly one result and the venue holds
// exactly one order per executed plan.
func TestCrashUnderLoad(t *testing.T) {
	ae := newApplyEnv(t)
	ctx := context.Background()
	rdb := ae.rd.Client
	k := ae.rd.Keys
	secrets := map[string][]byte{}
	for src, f := range ae.keyFiles {
		_, s, err := loadKeyLine(f)
		if err != nil {
			t.Fatal(err)
		}
		secrets[src] = s
	}
	const plans = 600
	rng := rand.New(rand.NewPCG(1, 2))
	producerDone := make(chan []string)
	go func() { // the producer: entries, closes, hostile exits
		rng := rand.New(rand.NewPCG(3, 4)) // its own: rand.Rand is not safe for concurrent use
		var ids []string
		for i := range plans {
			src, side, reduce := "intent_bridge", "BUY", "false"
			switch i % 6 {
			case 3:
				src, side, reduce = "exitbrain_v3_5", "SELL", "true"
			case 5:
				src, side, reduce = "rogue", "SELL", "false"
			}
			f := plan.SignFields(map[string]string{
				"plan_id": fmt.Sprintf("crash-%04d", i), "decision": "EXECUTE", "symbol": "SOLUSDT", "side": side,
				"type": "MARKET", "qty": "1", "reduceOnly": reduce, "source": src,
				"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "action": "CRASH_TEST",
			}, secrets[src])
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.ApplyPlan(), Values: f}).Err(); err != nil {
				panic(err)
			}
			ids = append(ids, f["plan_id"])
			time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond) // the load spans the kills
		}
		producerDone <- ids
	}()

	args := ae.daemonArgs("--claim-idle", "150ms", "--freshness", "10m")
	var stderr bytes.Buffer
	kills := 0
	for kills < 20 {
		cmd := quantumCommand(args...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(120)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
	}
	ids := <-producerDone
	// A last run drains what is left, then stops on SIGTERM.
	cmd := quantumCommand(args...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var results []map[string]string
	for {
		results = redistest.StreamEntries(t, rdb, k.ApplyResult())
		if len(results) >= len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let a duplicate show if there is one
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the last apply layer did not stop cleanly on SIGTERM: %v", err)
	}
	results = redistest.StreamEntries(t, rdb, k.ApplyResult())

	per := map[string]int{}
	executed := map[string]string{} // client order id -> plan id
	for _, r := range results {
		per[r["plan_id"]]++
		if r["decision"] == "EXECUTED" {
			executed[r["client_order_id"]] = r["plan_id"]
		}
		if r["source"] == "rogue" && r["decision"] != "DENIED" {
			t.Fatalf("a rogue exit was not denied: %v", r)
		}
	}
	for _, id := range ids {
		if per[id] != 1 {
			t.Fatalf("plan %s has %d results after %d kills (want exactly 1)\nlogs:\n%s", id, per[id], kills, tail(stderr.String(), 40))
		}
	}
	if len(results) != len(ids) {
		t.Fatalf("%d results for %d plans", len(results), len(ids))
	}
	venue, err := paper.New(rdb, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	orders, err := venue.Orders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range orders {
		if seen[o.ClientOrderID] {
			t.Fatalf("two orders with client order id %s", o.ClientOrderID)
		}
		seen[o.ClientOrderID] = true
		if _, ok := executed[o.ClientOrderID]; !ok {
			t.Fatalf("venue order %s has no EXECUTED result", o.ClientOrderID)
		}
	}
	if len(orders) != len(executed) {
		t.Fatalf("venue holds %d orders, %d plans executed", len(orders), len(executed))
	}
	pending, err := rdb.XPending(ctx, k.ApplyPlan(), "apply_layer").Result()
	if err != nil || pending.Count != 0 {
		t.Fatalf("entries left pending: %+v %v", pending, err)
	}
	claims := strings.Count(stderr.String(), `"msg":"claimed pending plans"`)
	reconciled := strings.Count(stderr.String(), `"msg":"reconciled plan after a restart"`)
	t.Logf("%d kills, %d plans, %d executed, %d orders; %d claims of a dead consumer's plans, %d reconciled by client order id",
		kills, len(ids), len(executed), len(orders), claims, reconciled)
	if claims == 0 {
		t.Fatal("no kill interrupted a batch: the test did not exercise recovery")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestMetricsHealthAndAuthOff: /metrics counts plans by decision and
// reason, /healthz answers, and --auth off is loud in all three places.
func TestMetricsHealthAndAuthOff(t *testing.T) {
	ae := newApplyEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, append(ae.daemonArgs(), "--metrics-addr", "127.0.0.1:0", "--auth", "off"), &cli.Env{
			Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs, Getenv: func(string) string { return "" },
		})
	}()
	waitFor(t, &logs, `"msg":"apply layer consuming"`)
	m := regexp.MustCompile(`"msg":"metrics listening","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", logs.String())
	}
	// An unsigned plan passes with --auth off: that is what makes it dangerous.
	raw := map[string]string{"plan_id": "unsigned-1", "decision": "EXECUTE", "symbol": "SOLUSDT", "side": "BUY",
		"type": "MARKET", "qty": "1", "source": "intent_bridge", "timestamp": strconv.FormatInt(time.Now().Unix(), 10)}
	if err := ae.rd.Client.XAdd(ctx, &redis.XAddArgs{Stream: ae.rd.Keys.ApplyPlan(), Values: raw}).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		rs := redistest.StreamEntries(t, ae.rd.Client, ae.rd.Keys.ApplyResult())
		if len(rs) == 1 {
			if rs[0]["decision"] != "EXECUTED" {
				t.Fatalf("unsigned plan under --auth off: %v", rs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no result for the unsigned plan")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ae.run("plan", "send", "--key-file", ae.keyFiles["rogue"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "1", "--wait", "10s").want(t, 1, "DENY_NOT_EXIT_OWNER")

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/healthz")
	if code != 200 || !strings.Contains(body, `"status":"ok"`) || !strings.Contains(body, `"auth":"off"`) || !strings.Contains(body, "AUTH OFF") {
		t.Fatalf("/healthz %d %s", code, body)
	}
	if !strings.Contains(body, `"redis":["appendonly`) { // run on a test Redis without persistence, allowed: shown
		t.Fatalf("/healthz does not show the allowed Redis finding: %s", body)
	}
	// The counters move just after a result is written: poll until they
	// show, for at most 10 s (a bound, not a timing assertion).
	for _, want := range []string{
		`quantum_apply_plans_total{decision="EXECUTED",reason=""} 1`,
		`quantum_apply_plans_total{decision="DENIED",reason="DENY_NOT_EXIT_OWNER"} 1`,
		"quantum_apply_auth_off 1", "quantum_apply_gate_seconds_count", "quantum_apply_exchange_seconds_count",
		"quantum_apply_policy_age_seconds",
	} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			code, body = get("/metrics")
			if code == 200 && strings.Contains(body, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics lacks %q (status %d)", want, code)
			}
		}
	}
	if !strings.Contains(logs.String(), "AUTH OFF") {
		t.Fatalf("--auth off did not warn in the log")
	}
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("exit %d", c)
	}
}

// TestApplyLayerRefusesUnsafeRedis: on a Redis without persistence the
// apply layer does not start, naming the setting and the fix; allowed, it
// starts and /healthz shows the finding.
func TestApplyLayerRefusesUnsafeRedis(t *testing.T) {
	ae := newApplyEnv(t)
	args := []string{"apply-layer", "--redis", ae.rd.Server.URL(), "--prefix", ae.rd.Keys.Prefix(),
		"--keyring", ae.keyring, "--pubkey", ae.pub, "--metrics-addr", ""}
	ae.run(args...).want(t, 2, "appendonly", "redis.conf", "--allow-unsafe-redis")
	ae.env["QUANTUM_ALLOW_UNSAFE_REDIS"] = "0"
	ae.run(args...).want(t, 2, "appendonly")
}

// TestApplyLayerPlanEncodings: a bad --plan-encodings list, from the flag or
// QUANTUM_PLAN_ENCODINGS, is a usage error naming it, never a silent
// default (which encodings verify is plan's TestVerifyEncodingCodes).
func TestApplyLayerPlanEncodings(t *testing.T) {
	ae := newApplyEnv(t)
	ae.run(append(ae.daemonArgs(), "--plan-encodings", "v3")...).want(t, 2, "--plan-encodings")
	ae.env[plan.EncodingsEnv] = "v2,v9"
	ae.run(ae.daemonArgs()...).want(t, 2, "plan-encodings")
}

// TestApplyLayerMinReplicasFlag: a bad QUANTUM_MIN_REPLICAS is refused
// naming it, never read as 0 (which would drop the durability asked for).
func TestApplyLayerMinReplicasFlag(t *testing.T) {
	ae := newApplyEnv(t)
	ae.env["QUANTUM_MIN_REPLICAS"] = "one"
	ae.run(ae.daemonArgs()...).want(t, 2, "QUANTUM_MIN_REPLICAS")
}

// TestReconcileCommand: quantum reconcile on the paper venue finds an order
// of ours that no record knows (exit 1, ORPHAN_ORDER), and none on a venue
// whose orders all have records (exit 0).
func TestReconcileCommand(t *testing.T) {
	ae := newApplyEnv(t)
	ctx := context.Background()
	args := []string{"reconcile", "--redis", ae.rd.Server.URL(), "--prefix", ae.rd.Keys.Prefix(), "--symbols", "BTCUSDT,SOLUSDT", "--paper-price", "SOLUSDT=150", "--paper-price", "BTCUSDT=65000"}
	// The index starts with the first apply layer: before it, nothing can be judged.
	ae.rd.Client.Set(ctx, ae.rd.Keys.ApplyOrderIndexSince(), time.Now().Add(-time.Minute).Unix(), 0)
	ae.run(args...).want(t, 0, "no orphan")
	v, err := paper.New(ae.rd.Client, ae.rd.Keys, map[string]string{"SOLUSDT": "150"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.PlaceOrder(ctx, exchange.Order{ClientOrderID: market.ClientOrderID("lost"), Symbol: "SOLUSDT", Side: market.Buy, Type: market.Market, Qty: "1"}); err != nil {
		t.Fatal(err)
	}
	ae.run(args...).want(t, 1, "ORPHAN_ORDER", market.ClientOrderID("lost"), "new, alerted")
	ae.run(args...).want(t, 1, "recorded before")
}
