package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/alertforward"
	"github.com/quantumtrader/quantum/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// syncBuf is a log sink the daemon writes to while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestAlertsForwardDaemon: with no consumer name the host's is used; the
// daemon serves /healthz and /metrics (the forwarder's counters and the
// Redis collector's gauges) while it delivers an alert to a webhook, and
// returns nil on cancellation. A bad configuration is an error, not a
// daemon.
func TestAlertsForwardDaemon(t *testing.T) {
	env := redistest.New(t)
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	var logs syncBuf
	cfg := alertforward.Config{Keys: env.Keys, Webhooks: []string{hook.URL}, Now: time.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	if _, err := NewAlertsForward(env.Client, alertforward.Config{Keys: env.Keys, Now: time.Now}); err == nil {
		t.Fatal("a forwarder without a target was built")
	}
	a, err := NewAlertsForward(env.Client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if host, _ := os.Hostname(); host != "" && a.cfg.Consumer != host {
		t.Errorf("consumer %q, want the host name %q", a.cfg.Consumer, host)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, "127.0.0.1:0") }()
	pub, err := alert.New(env.Client, alert.Options{Keys: env.Keys, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Fire(ctx, alert.Alert{Type: "TEST_ALERT", Severity: alert.SeverityWarning, Count: 1, Window: time.Minute}, time.Hour); err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 && addr.MatchString(logs.String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery or no metrics address in 10s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	base := "http://" + addr.FindStringSubmatch(logs.String())[1]
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/metrics": "quantum_redis_scrape_ok 1"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%.2000s", path, want, b)
		}
	}
	if !strings.Contains(got[0], "TEST_ALERT") {
		t.Errorf("webhook got %s", got[0])
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run on cancellation: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return on cancellation")
	}
}
