// Package amtest starts a real Alertmanager for tests: Debian's
// prometheus-alertmanager (or an alertmanager binary on PATH) on a free
// loopback port, with its own storage directory, a minimal configuration
// and clustering off. A missing binary fails the test with an install
// hint; it never skips.
package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallHint says how to get Alertmanager.
const InstallHint = "Alertmanager not found (prometheus-alertmanager or alertmanager on PATH): the tests need a real one. " +
	"Install it with `apt-get install -y prometheus-alertmanager` (Debian/Ubuntu) or from " +
	"https://prometheus.io/download/#alertmanager, then run the tests again."

// Config is the Alertmanager configuration used: one receiver that
// notifies nobody, and resolve_timeout as given.
const configTmpl = `global:
  resolve_timeout: %s
route:
  receiver: nobody
  group_wait: 1s
receivers:
  - name: nobody
`

// Server is an Alertmanager process owned by a test.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts Alertmanager with the given resolve_timeout (0: 5m, its
// default) and stops it at the end of the test.
func Start(t testing.TB, resolveTimeout time.Duration) *Server {
	t.Helper()
	bin := ""
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal(InstallHint)
	}
	if resolveTimeout <= 0 {
		resolveTimeout = 5 * time.Minute
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(configTmpl, model(resolveTimeout))
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, dir: dir, port: port}
	s.StartAgain()
	t.Cleanup(s.Stop)
	return s
}

func model(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// URL is the base URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// StartAgain starts the process (after Stop) on the same port and storage
// and waits until it is ready. Alerts live in Alertmanager's memory: a
// restarted one knows none until they are sent again.
func (s *Server) StartAgain() {
	s.t.Helper()
	cmd := exec.Command(s.bin,
		"--config.file="+filepath.Join(s.dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(s.dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", s.port),
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	logf, err := os.OpenFile(filepath.Join(s.dir, "alertmanager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL() + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			s.t.Fatalf("alertmanager exited at start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("alertmanager not ready within 20s (%v):\n%s", err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the process (SIGTERM, then SIGKILL) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Log returns Alertmanager's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "alertmanager.log"))
	return string(b)
}

// Alert is one alert of GET /api/v2/alerts.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds (GET /api/v2/alerts, which
// leaves out resolved ones).
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/alerts: HTTP %d", resp.StatusCode)
	}
	var out []Alert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET /api/v2/alerts: %w", err)
	}
	return out, nil
}

// WaitFor polls the alerts until match holds for them or timeout passes,
// then returns them; it fails the test on timeout.
func (s *Server) WaitFor(t testing.TB, what string, timeout time.Duration, match func([]Alert) bool) []Alert {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []Alert
	var err error
	for {
		last, err = s.Alerts(context.Background())
		if err == nil && match(last) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alertmanager: %s: not seen within %s (last error %v); alerts: %s\nlog:\n%s", what, timeout, err, describe(last), s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Find returns the alert whose labels include every label of want.
func Find(alerts []Alert, want map[string]string) (Alert, bool) {
next:
	for _, a := range alerts {
		for k, v := range want {
			if a.Labels[k] != v {
				continue next
			}
		}
		return a, true
	}
	return Alert{}, false
}

func describe(as []Alert) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "\n  %v %s endsAt=%s", a.Labels, a.Status.State, a.EndsAt.Format(time.RFC3339))
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("amtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
