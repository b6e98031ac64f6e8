package alertforward

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// amAlert is one alert of Alertmanager's v2 API (POST /api/v2/alerts, the
// postableAlert of its OpenAPI spec): labels are the identity, annotations
// the description; startsAt and endsAt are RFC 3339. An alert without
// endsAt fires until Alertmanager's resolve_timeout passes without a
// re-send; one whose endsAt has passed is resolved.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// labelFields are the entry fields that become Alertmanager labels, besides
// alert_type (as alertname). Every other field is an annotation.
var labelFields = []string{"severity", "alert_id", "sources", "symbols"}

// notLabels are the fields that are neither labels nor annotations: the
// status and the times become startsAt and endsAt.
var notLabels = map[string]bool{"alert_type": true, "status": true}

// fromEntry converts an alert entry of the stream. A resolved entry gets
// endsAt at its timestamp; a firing one has none.
func fromEntry(fields map[string]string) amAlert {
	a := amAlert{Labels: map[string]string{"alertname": fields["alert_type"]}, Annotations: map[string]string{}}
	for _, k := range labelFields {
		if v := fields[k]; v != "" {
			a.Labels[k] = v
		}
	}
	for k, v := range fields {
		if notLabels[k] || a.Labels[k] != "" || v == "" {
			continue
		}
		a.Annotations[k] = v
	}
	a.Annotations["summary"] = summary(fields)
	if t, ok := unix(fields["started_at"]); ok {
		a.StartsAt = t.Format(time.RFC3339)
	} else if t, ok := unix(fields["timestamp"]); ok {
		a.StartsAt = t.Format(time.RFC3339)
	}
	if fields["status"] == "resolved" {
		end, ok := unix(fields["timestamp"])
		if !ok {
			end = time.Unix(0, 0)
		}
		a.EndsAt = end.Format(time.RFC3339)
	}
	return a
}

// summary is one human line for the notification.
func summary(f map[string]string) string {
	var b strings.Builder
	b.WriteString(f["alert_type"])
	for _, k := range []string{"deny_count", "window", "sources", "symbols", "reason"} {
		if v := f[k]; v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	return b.String()
}

func unix(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// resolvedAt returns a copy of a resolved at t (same labels).
func (a amAlert) resolvedAt(t time.Time) amAlert {
	r := a
	r.Annotations = maps.Clone(a.Annotations)
	r.EndsAt = t.UTC().Format(time.RFC3339)
	return r
}

// sameLabels reports whether a and b are one alert for Alertmanager.
func sameLabels(a, b amAlert) bool { return maps.Equal(a.Labels, b.Labels) }

// target is one place every alert goes: an Alertmanager or a webhook.
type target struct {
	name string // for logs and metrics: scheme://host/path, no credentials
	url  string // where to POST
	am   bool   // Alertmanager v2 (else the generic webhook)
}

// newTarget parses an Alertmanager base URL (http://host:9093, optionally
// with a path prefix; a trailing /api/v2/alerts is accepted) or a webhook
// URL.
func newTarget(raw string, am bool) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, fmt.Errorf("URL %q: want http:// or https:// and a host", u.Redacted())
	}
	if am {
		u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v2/alerts") + "/api/v2/alerts"
	}
	name := u.Scheme + "://" + u.Host + u.Path
	return target{name: name, url: u.String(), am: am}, nil
}

// post sends body to t and wants a 2xx.
func post(ctx context.Context, hc *http.Client, t target, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", t.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: HTTP %d: %s", t.name, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// webhookBody is what a generic webhook receives for one entry: the
// entry's fields as they are in the stream, and its id.
type webhookBody struct {
	Version string            `json:"version"` // "quantum-alert/v1"
	EntryID string            `json:"entry_id"`
	Stream  string            `json:"stream"`
	Alert   map[string]string `json:"alert"`
}

func sortedTargets(ts []target) []string {
	var names []string
	for _, t := range ts {
		names = append(names, t.name)
	}
	return slices.Sorted(slices.Values(names))
}
