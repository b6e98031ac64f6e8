package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
)

// promtoolHint says how to get promtool.
const promtoolHint = "promtool not found on PATH: the tests check PromQL with it. " +
	"Install it with `apt-get install -y prometheus` (Debian/Ubuntu) or from https://prometheus.io/download/, then run the tests again."

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal(promtoolHint)
	}
	return p
}

// dashboardQuery is one target of deploy/grafana/quantum.json.
type dashboardQuery struct{ panel, expr string }

func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "quantum.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("deploy/grafana/quantum.json: %v", err)
	}
	var qs []dashboardQuery
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			qs = append(qs, dashboardQuery{panel: p.Title, expr: tg.Expr})
		}
	}
	if len(qs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(qs))
	}
	return qs
}

// grafanaVars are the Grafana variables the queries may use, with the value
// the test gives them.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// TestDashboardQueriesArePromQL writes every query of the dashboard as a
// recording rule and has promtool check the file: a query that does not
// parse fails it.
func TestDashboardQueriesArePromQL(t *testing.T) {
	bin := promtool(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range dashboardQueries(t) {
		expr := grafanaVars.Replace(q.expr)
		if strings.Contains(expr, "$") {
			t.Errorf("panel %q: unknown variable in %s", q.panel, q.expr)
		}
		e, _ := json.Marshal(expr) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, e)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s\n%s", err, out, b.String())
	}
	// The check can fail: a broken query is refused.
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("groups:\n  - name: d\n    rules:\n      - record: x\n        expr: 'sum by (le (rate(x[5m]))'\n"), 0o644)
	if out, err := exec.Command(bin, "check", "rules", bad).CombinedOutput(); err == nil {
		t.Fatalf("promtool accepted a broken query:\n%s", out)
	}
}

// promqlNames returns the metric names a query reads: identifiers outside
// strings, label matchers, ranges and grouping lists, that are not
// functions or keywords.
func promqlNames(expr string) []string {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`),
		regexp.MustCompile(`\{[^}]*\}`),
		regexp.MustCompile(`\[[^\]]*\]`),
		regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
	} {
		expr = re.ReplaceAllString(expr, " ")
	}
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true}
	var names []string
	for _, m := range regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`).FindAllString(expr, -1) {
		if strings.HasSuffix(m, "(") || keywords[m] {
			continue
		}
		names = append(names, m)
	}
	return names
}

func TestPromQLNames(t *testing.T) {
	got := promqlNames(`histogram_quantile(0.99, sum by (le) (rate(quantum_apply_gate_seconds_bucket{x="a b"}[5m]))) - time() or min(up{job=~"q.*"} > 0) and on () quantum_x`)
	if want := []string{"quantum_apply_gate_seconds_bucket", "up", "quantum_x"}; !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
}

// scrape returns the metric names of a /metrics page.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// waitLogMatch waits until the log holds re's match and returns its first group.
func waitLogMatch(t *testing.T, log *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %s:\n%s", re, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runDaemon runs a long-running command in-process until the test ends.
func runDaemon(t *testing.T, h *harness, args ...string) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return h.env[k] }})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("%s exited %d:\n%s", args[0], code, logs.String())
		}
	})
	return &logs
}

var metricsAddrRE = regexp.MustCompile(`"msg":"metrics listening","addr":"([^"]+)"`)

// TestDashboardMetricsExist runs an apply layer and the alert forwarder
// in-process, sends plans that execute, are denied for ownership and fail
// authentication (as a known and an unknown source), runs the watch, then
// scrapes both /metrics: every metric a dashboard query or an alerting
// rule reads must be there. It also checks that a source the keyring does
// not know is counted as "other", never as its own label value.
func TestDashboardMetricsExist(t *testing.T) {
	ae := newApplyEnv(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer hook.Close()
	applyLog := runDaemon(t, ae.harness, append(ae.daemonArgs(), "--metrics-addr", "127.0.0.1:0")...)
	fwdLog := runDaemon(t, ae.harness, "alerts", "forward", "--webhook", hook.URL, "--metrics-addr", "127.0.0.1:0", "--log-format", "json")
	applyURL := "http://" + waitLogMatch(t, applyLog, metricsAddrRE) + "/metrics"
	fwdURL := "http://" + waitLogMatch(t, fwdLog, metricsAddrRE) + "/metrics"

	ae.run("plan", "send", "--key-file", ae.keyFiles["intent_bridge"], "--symbol", "SOLUSDT", "--side", "BUY", "--qty", "2", "--wait", "10s").want(t, 0, "EXECUTED")
	ae.run("plan", "send", "--key-file", ae.keyFiles["rogue"], "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "1", "--reduce-only", "--wait", "10s").want(t, 1, "DENY_NOT_EXIT_OWNER")
	_, rogueSecret, err := loadKeyLine(ae.keyFiles["rogue"])
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"exitbrain_v3_5", "stranger_service"} { // signed with the rogue's secret
		f := writeFile(t, ae.dir, src+".forged", fmt.Sprintf("%s %x\n", src, rogueSecret))
		os.Chmod(f, 0o600)
		ae.run("plan", "send", "--key-file", f, "--symbol", "SOLUSDT", "--side", "SELL", "--qty", "1", "--wait", "10s").want(t, 1, "AUTH_")
	}
	ae.run("exit-owner", "watch").want(t, 1, "DENY_NOT_EXIT_OWNER")

	// The forwarder has the watch's alert once it counts it firing and
	// forwarded (the counter moves after the acknowledgement).
	var fwdNames map[string]bool
	deadline := time.Now().Add(15 * time.Second)
	for fwdNames = scrape(t, fwdURL); !fwdNames["quantum_alerts_firing"] || !fwdNames["quantum_alerts_forwarded_total"]; fwdNames = scrape(t, fwdURL) {
		if time.Now().After(deadline) {
			t.Fatalf("the forwarder never counted the alert firing:\n%s", fwdLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	names := scrape(t, applyURL)
	for n := range fwdNames {
		names[n] = true
	}
	names["up"] = true // Prometheus's own, per target

	var queries []dashboardQuery
	queries = append(queries, dashboardQueries(t)...)
	queries = append(queries, rulesQueries(t)...)
	for _, q := range queries {
		for _, n := range promqlNames(grafanaVars.Replace(q.expr)) {
			if !names[n] {
				t.Errorf("%s: %s reads %s, which no daemon exports", q.panel, q.expr, n)
			}
		}
	}

	page := scrapeText(t, applyURL)
	for _, want := range []string{
		`quantum_apply_denials_total{reason="DENY_NOT_EXIT_OWNER",source="rogue"} 1`,
		`quantum_apply_denials_total{reason="AUTH_INVALID",source="exitbrain_v3_5"} 1`,
		`quantum_apply_denials_total{reason="AUTH_UNKNOWN_SOURCE",source="other"} 1`,
		`quantum_apply_policy_valid 1`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("apply layer /metrics lacks %s", want)
		}
	}
	if strings.Contains(page, "stranger_service") {
		t.Errorf("an unknown source became a label value")
	}
	if fp := scrapeText(t, fwdURL); !strings.Contains(fp, `quantum_alerts_firing{alert_type="EXIT_OWNER_VIOLATION",severity="critical"} 1`) ||
		!strings.Contains(fp, `quantum_heartbeat_last_ok_timestamp_seconds{task="exit-owner-watch"}`) || !strings.Contains(fp, "quantum_redis_scrape_ok 1") {
		t.Errorf("forwarder /metrics lacks the firing alert, the watch heartbeat or Redis:\n%s", fp)
	}
}

func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// rulesQueries returns the exprs of deploy/prometheus/quantum-rules.yml
// (single-line "expr:" values and folded ">" blocks).
func rulesQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "quantum-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var qs []dashboardQuery
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "expr:") {
			continue
		}
		expr := strings.TrimSpace(strings.TrimPrefix(l, "expr:"))
		if expr == ">" {
			expr = ""
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "          ") {
				i++
				expr += " " + strings.TrimSpace(lines[i])
			}
		}
		qs = append(qs, dashboardQuery{panel: fmt.Sprintf("quantum-rules.yml line %d", i+1), expr: expr})
	}
	if len(qs) < 15 {
		t.Fatalf("only %d rules read", len(qs))
	}
	return qs
}
