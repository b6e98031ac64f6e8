package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redistest"
)

// TestAlertsForwardOnce: `quantum alerts forward --once` with its targets
// from the environment delivers what the stream holds and exits 0; a
// target that refuses makes it exit 1 with the entry left pending; no
// target, or a bad variable, is a usage error.
func TestAlertsForwardOnce(t *testing.T) {
	rd := redistest.New(t)
	pub, err := alert.New(rd.Client, alert.Options{Keys: rd.Keys, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	a := alert.Alert{Type: alert.TypePolicyExpiring, Severity: alert.SeverityWarning, Count: alert.CountOccurrences, Window: time.Minute}
	if _, err := pub.Fire(context.Background(), a, time.Hour); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	status := http.StatusInternalServerError
	var types []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var b struct {
			Alert map[string]string `json:"alert"`
		}
		json.NewDecoder(r.Body).Decode(&b)
		if status == http.StatusOK {
			types = append(types, b.Alert["alert_type"])
		}
		w.WriteHeader(status)
	}))
	defer hook.Close()
	h := newHarness(t, map[string]string{
		"QUANTUM_REDIS_URL": rd.Server.URL(), "QUANTUM_PREFIX": rd.Keys.Prefix(),
		"QUANTUM_ALERT_WEBHOOK_URLS": hook.URL, "QUANTUM_ALERTS_FORWARD_RETRY_FOR": "200ms",
	})
	h.run("alerts", "forward", "--once").want(t, 1, "left pending", "HTTP 500")
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	h.run("alerts", "forward", "--once").want(t, 0)
	mu.Lock()
	if len(types) != 1 || types[0] != alert.TypePolicyExpiring {
		t.Errorf("webhook got %v", types)
	}
	mu.Unlock()
	h.run("alerts", "forward", "--once").want(t, 0) // nothing left: nothing sent
	mu.Lock()
	if len(types) != 1 {
		t.Errorf("webhook got %v after a second drain", types)
	}
	mu.Unlock()

	h.env["QUANTUM_ALERT_WEBHOOK_URLS"] = ""
	h.run("alerts", "forward", "--once").want(t, 2, "no target")
	h.run("alerts", "forward", "--once", "--alertmanager", "ftp://x").want(t, 2, "ftp://x")
	h.env["QUANTUM_ALERT_RESEND_INTERVAL"] = "often"
	h.run("alerts", "forward", "--alertmanager", "http://127.0.0.1:1").want(t, 2, `QUANTUM_ALERT_RESEND_INTERVAL="often"`)
	h.run("alerts", "forward", "--help").want(t, 0, "Usage: quantum alerts forward", "--alertmanager", "QUANTUM_ALERTMANAGER_URLS", "resolve_timeout")
}
