package binance

// The HTTP client: signing, the request weights and the rate limiter,
// the error mapping of an answer, the server time offset.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantumtrader/quantum/exchange"
)

// RateLimited is the error of a request refused for its rate (HTTP 429,
// 418, -1003, -1015), not sent because the back-off it started still runs,
// or not sent because the client-side limiter has no room for it (Local).
// It is exchange.ErrUnavailable: nothing was executed.
type RateLimited struct {
	Status int       // 429 or 418; 0 when the request was not sent
	Code   int       // the venue code, -1003 when given
	Until  time.Time // no request is sent before (Local: the window with room begins)
	Local  bool      // refused by the client-side limiter, before the venue
}

func (e *RateLimited) Error() string {
	if e.Local {
		return fmt.Sprintf("binance: client-side rate limit reached (exits keep a reserved share), next window at %s: request not sent",
			e.Until.UTC().Format(time.RFC3339Nano))
	}
	if e.Status == 0 {
		return fmt.Sprintf("binance: rate limited, backing off until %s: request not sent", e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("binance: rate limited (HTTP %d, code %d), backing off until %s", e.Status, e.Code, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes a RateLimited exchange.ErrUnavailable.
func (e *RateLimited) Unwrap() error { return exchange.ErrUnavailable }

// request is one REST call.
type request struct {
	method, path string
	params       url.Values // without timestamp, recvWindow and signature
	signed       bool
	mutates      bool   // may change state at the venue: unknown outcomes matter
	sentTS       *int64 // when set, receives the timestamp of the last signed attempt (venue ms)
}

// weights are the documented request weights of the endpoints used
// ("Request Weight" on each endpoint's page of the USD-M docs). A new
// order weighs 0 on the IP limit and 1 on each ORDERS limit.
var weights = map[string]int{
	"GET /fapi/v1/time": 1, "GET /fapi/v1/exchangeInfo": 1, "GET /fapi/v1/premiumIndex": 1,
	"GET /fapi/v1/positionSide/dual": 30, "POST /fapi/v1/order": 0, "GET /fapi/v1/order": 1,
	"POST /fapi/v1/leverage": 1, "GET /fapi/v3/positionRisk": 5, "GET /fapi/v2/account": 5,
	"GET /fapi/v1/apiTradingStatus": 10, "GET /fapi/v1/leverageBracket": 1, "GET /fapi/v1/allOrders": 5,
	"GET /fapi/v1/income": 30,
}

// cost is a request's weight and orders.
func (r request) cost() (weight, orders int) {
	k := r.method + " " + r.path
	w, ok := weights[k]
	if !ok {
		w = 10 // an endpoint not in the table: count it heavy rather than free
	}
	if k == "POST /fapi/v1/order" {
		return w, 1
	}
	return w, 0
}

// apiError is Binance's error body.
type apiError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// unknownCodes are the venue codes whose execution status is unknown.
var unknownCodes = map[int]bool{CodeUnknown: true, CodeDisconnected: true, CodeUnexpectedResp: true, CodeTimeout: true}

// do sends r and decodes a 200 answer into out (when not nil). It retries
// once after a -1021, which the venue answers before executing anything.
func (c *Client) do(ctx context.Context, r request, out any) error {
	err := c.send(ctx, r, out)
	var rej *exchange.Rejected
	if r.signed && errors.As(err, &rej) && rej.Code == CodeInvalidTimestamp {
		c.cfg.Log.Warn("binance: timestamp outside recvWindow, re-measuring the server time offset", "path", r.path)
		if _, serr := c.SyncTime(ctx); serr != nil {
			return fmt.Errorf("%w (and re-measuring the time offset failed: %w)", err, serr)
		}
		err = c.send(ctx, r, out)
	}
	return err
}

func (c *Client) send(ctx context.Context, r request, out any) error {
	what := r.method + " " + r.path
	weight, orders := r.cost()
	if err := c.cfg.Limiter.take(ctx, c.venueNow, weight, orders, exchange.IsUrgent(ctx)); err != nil {
		c.count(r.path, "backoff")
		return fmt.Errorf("binance: %s: %w", what, err)
	}
	now := c.cfg.Now()
	if r.signed {
		if c.cfg.Credentials.empty() {
			return fmt.Errorf("binance: %s: no API key and secret: %w", what, exchange.ErrUnavailable)
		}
		if time.Duration(now.UnixNano()-c.syncedAt.Load()) > c.cfg.TimeSync {
			if _, err := c.SyncTime(ctx); err != nil {
				c.cfg.Log.Warn("binance: could not re-measure the server time offset; keeping the last one", "error", err)
			}
		}
	}
	payload := r.params.Encode()
	if r.signed {
		ts := now.UnixMilli() + c.offsetMs.Load()
		extra := "timestamp=" + strconv.FormatInt(ts, 10) + "&recvWindow=" + strconv.FormatInt(c.cfg.RecvWindow.Milliseconds(), 10)
		if payload == "" {
			payload = extra
		} else {
			payload += "&" + extra
		}
		payload += "&signature=" + c.cfg.Credentials.sign(payload)
		if r.sentTS != nil {
			*r.sentTS = ts
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	u := c.base.String() + r.path
	var body io.Reader
	if r.method == http.MethodGet || r.method == http.MethodDelete {
		if payload != "" {
			u += "?" + payload
		}
	} else {
		body = strings.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return fmt.Errorf("binance: %s: build request: %w", what, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.signed {
		req.Header.Set("X-MBX-APIKEY", c.cfg.Credentials.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL (signature included): keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if wrote.Load() && r.mutates {
			c.count(r.path, "unknown")
			return fmt.Errorf("binance: %s: sent, no answer: %w: %w", what, exchange.ErrUnknownOutcome, err)
		}
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: %w: %w", what, exchange.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	c.cfg.Limiter.observe(ctx, c.venueNow(), resp.Header)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if r.mutates {
			c.count(r.path, "unknown")
			return fmt.Errorf("binance: %s: reading the answer: %w: %w", what, exchange.ErrUnknownOutcome, err)
		}
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: reading the answer: %w: %w", what, exchange.ErrUnavailable, err)
	}
	var ae apiError
	if resp.StatusCode != http.StatusOK {
		json.Unmarshal(data, &ae)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		c.count(r.path, "ok")
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			if r.mutates {
				return fmt.Errorf("binance: %s: unreadable answer: %w: %w", what, exchange.ErrUnknownOutcome, err)
			}
			return fmt.Errorf("binance: %s: unreadable answer: %w", what, err)
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusTeapot || ae.Code == CodeTooManyRequests:
		return fmt.Errorf("binance: %s: %w", what, c.rateLimited(ctx, resp, ae))
	case resp.StatusCode >= 500 || unknownCodes[ae.Code] || (resp.StatusCode == http.StatusRequestTimeout && ae.Code == 0):
		// 5xx, the unknown codes, and a 408 without a code (the docs: a
		// timeout waiting for the backend) may all have executed.
		desc := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if ae.Code != 0 {
			desc = fmt.Sprintf("HTTP %d, code %d: %s", resp.StatusCode, ae.Code, ae.Msg)
		}
		if r.mutates {
			c.count(r.path, "unknown")
			return fmt.Errorf("binance: %s: %s: %w", what, desc, exchange.ErrUnknownOutcome)
		}
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: %s: %w", what, desc, exchange.ErrUnavailable)
	case ae.Code != 0:
		c.count(r.path, "rejected")
		return &exchange.Rejected{Code: ae.Code, Msg: ae.Msg}
	default:
		// A 4xx without a venue code (a WAF's 403, a proxy): not executed.
		c.count(r.path, "unavailable")
		return fmt.Errorf("binance: %s: HTTP %d without a venue code: %w", what, resp.StatusCode, exchange.ErrUnavailable)
	}
}

// rateLimited starts the back-off of a 429, 418 or -1003 answer, in the
// limiter's store (shared by replicas).
func (c *Client) rateLimited(ctx context.Context, resp *http.Response, ae apiError) *RateLimited {
	d := DefaultBackoff
	if resp.StatusCode == http.StatusTeapot {
		d = DefaultBanBackoff
	}
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	}
	now := c.venueNow()
	until := now.Add(d)
	c.cfg.Limiter.backoff(ctx, now, until)
	if m := c.cfg.Metrics; m != nil {
		m.rateLimited.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
		m.backoffUntil.Set(float64(until.Unix()))
	}
	c.cfg.Log.Warn("binance: rate limited, backing off", "status", resp.StatusCode, "code", ae.Code, "retry_after", d, "until", until)
	return &RateLimited{Status: resp.StatusCode, Code: ae.Code, Until: until}
}

// venueNow is the venue's clock as last measured: the local clock plus
// the offset.
func (c *Client) venueNow() time.Time {
	return c.cfg.Now().Add(time.Duration(c.offsetMs.Load()) * time.Millisecond)
}

func (c *Client) count(path, result string) {
	if m := c.cfg.Metrics; m != nil {
		m.requests.WithLabelValues(path, result).Inc()
	}
}

// SyncTime measures the offset of the server's clock to the local one
// (GET /fapi/v1/time), keeps it for signed requests and returns it.
func (c *Client) SyncTime(ctx context.Context) (time.Duration, error) {
	var out struct {
		ServerTime int64 `json:"serverTime"`
	}
	t0 := c.cfg.Now()
	if err := c.send(ctx, request{method: http.MethodGet, path: "/fapi/v1/time"}, &out); err != nil {
		return 0, err
	}
	t1 := c.cfg.Now()
	if out.ServerTime <= 0 {
		return 0, errors.New("binance: GET /fapi/v1/time: no serverTime in the answer")
	}
	mid := t0.UnixMilli() + (t1.UnixMilli()-t0.UnixMilli())/2
	off := out.ServerTime - mid
	c.offsetMs.Store(off)
	c.syncedAt.Store(t1.UnixNano())
	if m := c.cfg.Metrics; m != nil {
		m.timeOffset.Set(float64(off) / 1000)
	}
	return time.Duration(off) * time.Millisecond, nil
}

// sign is kept here so that every use of the secret is in two places:
// sign and Credentials.
func (k Credentials) sign(payload string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}
