package binance

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange"
)

// RateLimit is one entry of exchangeInfo's rateLimits.
type RateLimit struct {
	Type        string `json:"rateLimitType"` // REQUEST_WEIGHT or ORDERS
	Interval    string `json:"interval"`      // SECOND, MINUTE, HOUR, DAY
	IntervalNum int    `json:"intervalNum"`
	Limit       int    `json:"limit"`
}

// DefaultRateLimits are the documented USD-M defaults, used until
// exchangeInfo has been read: 2,400 request weight a minute (per IP),
// 1,200 orders a minute and 300 every 10 seconds (per account).
var DefaultRateLimits = []RateLimit{
	{Type: "REQUEST_WEIGHT", Interval: "MINUTE", IntervalNum: 1, Limit: 2400},
	{Type: "ORDERS", Interval: "MINUTE", IntervalNum: 1, Limit: 1200},
	{Type: "ORDERS", Interval: "SECOND", IntervalNum: 10, Limit: 300},
}

func (l RateLimit) window() time.Duration {
	unit := map[string]time.Duration{"SECOND": time.Second, "MINUTE": time.Minute, "HOUR": time.Hour, "DAY": 24 * time.Hour}[l.Interval]
	return time.Duration(l.IntervalNum) * unit
}

// id is the limit's name in its response header: USED-WEIGHT-1M,
// ORDER-COUNT-10S.
func (l RateLimit) id() string {
	kind := "USED-WEIGHT-"
	if l.Type == "ORDERS" {
		kind = "ORDER-COUNT-"
	}
	return kind + strconv.Itoa(l.IntervalNum) + l.Interval[:1]
}

// Limiter is the client-side rate limiter: it keeps the adapter (and every
// replica sharing its store) under the venue's limits, so the venue never
// has to answer 429.
//
// Each limit of exchangeInfo's rateLimits is a fixed window aligned to the
// venue's clock, as Binance's are. Before a request is sent its weight
// (and, for an order, one order in each ORDERS window) is taken from every
// window; a request that would go beyond Share of a limit is not sent.
// Requests for exits (reduce-only orders, and reads made for them, see
// exchange.Urgent) may use the whole Share; every other request only
// (1 - ExitReserve) of it, so that a flood of entries can never starve
// exits. An exit waits up to Wait for the next window; an entry does not
// wait (it is refused: ErrUnavailable, nothing sent).
//
// The counts are kept in step with the venue: every answer's
// X-MBX-USED-WEIGHT-* and X-MBX-ORDER-COUNT-* headers raise the window's
// count to what the venue says (other processes on the same IP or account
// count too). A 429 or 418 stops every request until its Retry-After, in
// the same store, so that replicas stop together.
type Limiter struct {
	store limitStore
	// Share of each limit the adapter uses (default 0.9: headroom for
	// `quantum exchange check` and a human on the same key). Within a
	// guard band of a window boundary (a twentieth of the window, at most
	// 250ms) a request is charged to both windows, so that an offset to the
	// venue's clock a little off never lets the venue count more than the
	// limit in one of its windows.
	Share float64
	// ExitReserve is the part of the share only exits may use (default 0.2).
	ExitReserve float64
	// Wait is how long an exit waits for room (default 10s).
	Wait time.Duration

	mu     sync.Mutex
	limits []RateLimit
}

// Defaults of a Limiter.
const (
	DefaultLimitShare  = 0.9
	DefaultExitReserve = 0.2
	DefaultLimitWait   = 10 * time.Second
)

// NewRedisLimiter returns a limiter whose counts live in Redis under the
// key prefix (keys prefix:apply:binance:rate:*, which the apply layer's
// Redis user may touch), shared by every process using the same prefix:
// one Lua script of GET, SET and TIME takes from every window at once.
func NewRedisLimiter(rdb redis.UniversalClient, prefix string) *Limiter {
	return newLimiter(&redisStore{rdb: rdb, prefix: prefix + ":apply:binance:rate:"})
}

// NewLocalLimiter returns a limiter for this process alone.
func NewLocalLimiter() *Limiter {
	return newLimiter(&localStore{used: map[string]int64{}})
}

func newLimiter(s limitStore) *Limiter {
	return &Limiter{store: s, Share: DefaultLimitShare, ExitReserve: DefaultExitReserve, Wait: DefaultLimitWait, limits: DefaultRateLimits}
}

// SetLimits replaces the limits (from exchangeInfo's rateLimits); limits
// of other types (RAW_REQUESTS) and malformed ones are ignored, and an
// empty list keeps the current limits.
func (l *Limiter) SetLimits(limits []RateLimit) {
	var keep []RateLimit
	for _, r := range limits {
		if (r.Type == "REQUEST_WEIGHT" || r.Type == "ORDERS") && r.window() > 0 && r.Limit > 0 {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return
	}
	l.mu.Lock()
	l.limits = keep
	l.mu.Unlock()
}

// Limits returns the limits in force.
func (l *Limiter) Limits() []RateLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RateLimit(nil), l.limits...)
}

// slot is one window's counter for one request.
type slot struct {
	key     string
	cost    int64
	ceiling int64
	ends    time.Time // the window ends (the counter's lifetime)
	free    time.Time // when a full slot stops mattering to this request
}

// slots are the windows a request at t (the venue's clock, as measured)
// is charged to: its own window and, within a guard band of a boundary,
// the neighbouring one too, since the measured offset may be off by a few
// milliseconds and the venue may count the request on the other side of
// the boundary.
func (l *Limiter) slots(t time.Time, weight, orders int, urgent bool) []slot {
	l.mu.Lock()
	limits := l.limits
	l.mu.Unlock()
	share := l.Share
	if !urgent {
		share *= 1 - l.ExitReserve
	}
	var out []slot
	for _, r := range limits {
		cost := weight
		if r.Type == "ORDERS" {
			cost = orders
		}
		if cost <= 0 {
			continue
		}
		w := r.window()
		guard := min(w/20, 250*time.Millisecond)
		n := t.UnixNano() / int64(w)
		start, end := time.Unix(0, n*int64(w)), time.Unix(0, (n+1)*int64(w))
		add := func(i int64, free time.Time) {
			out = append(out, slot{key: r.id() + ":" + strconv.FormatInt(i, 10), cost: int64(cost),
				ceiling: max(1, int64(float64(r.Limit)*share)), ends: time.Unix(0, (i+1)*int64(w)), free: free})
		}
		add(n, end)
		if t.Sub(start) < guard {
			add(n-1, start.Add(guard))
		}
		if end.Sub(t) < guard {
			add(n+1, end.Add(w))
		}
	}
	return out
}

// take takes a request's cost, waiting for room when urgent. now is the
// venue's clock. A refusal is a *RateLimited (ErrUnavailable: not sent).
func (l *Limiter) take(ctx context.Context, now func() time.Time, weight, orders int, urgent bool) error {
	deadline := now().Add(l.Wait)
	for {
		t := now()
		slots := l.slots(t, weight, orders, urgent)
		full, backoff, err := l.store.take(ctx, t, slots)
		if err != nil {
			return fmt.Errorf("binance: rate limiter: %w: %w", exchange.ErrUnavailable, err)
		}
		var until time.Time
		switch {
		case !backoff.IsZero():
			until = backoff
		case full < 0:
			return nil
		default:
			until = slots[full].free
		}
		if !urgent || until.After(deadline) {
			return &RateLimited{Until: until, Local: backoff.IsZero()}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("binance: waiting for the rate limit: %w: %w", exchange.ErrUnavailable, ctx.Err())
		case <-time.After(until.Sub(t) + time.Millisecond):
		}
	}
}

// observe raises the windows' counts to the answer's usage headers.
func (l *Limiter) observe(ctx context.Context, now time.Time, h http.Header) {
	l.mu.Lock()
	limits := l.limits
	l.mu.Unlock()
	var seen []slot
	for _, r := range limits {
		v := h.Get("X-Mbx-" + r.id())
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			continue
		}
		w := r.window()
		i := now.UnixNano() / int64(w)
		seen = append(seen, slot{key: r.id() + ":" + strconv.FormatInt(i, 10), cost: n, ends: time.Unix(0, (i+1)*int64(w))})
	}
	if len(seen) > 0 {
		l.store.observe(ctx, now, seen)
	}
}

// backoff stops every request until until.
func (l *Limiter) backoff(ctx context.Context, now, until time.Time) {
	l.store.backoff(ctx, now, until)
}

// limitStore keeps the windows' counts and the back-off.
type limitStore interface {
	// take adds every slot's cost when each stays within its ceiling, and
	// returns -1; else the index of the first full slot. A running back-off
	// is returned instead (nothing taken).
	take(ctx context.Context, now time.Time, slots []slot) (full int, backoff time.Time, err error)
	observe(ctx context.Context, now time.Time, used []slot)
	backoff(ctx context.Context, now, until time.Time)
}

type localStore struct {
	mu      sync.Mutex
	used    map[string]int64
	expires map[string]time.Time
	until   time.Time
}

func (s *localStore) take(_ context.Context, now time.Time, slots []slot) (int, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.until) {
		return 0, s.until, nil
	}
	for i, sl := range slots {
		if s.used[sl.key]+sl.cost > sl.ceiling {
			return i, time.Time{}, nil
		}
	}
	for _, sl := range slots {
		s.add(sl, sl.cost)
	}
	return -1, time.Time{}, nil
}

// add adds to a window's count and forgets windows that have ended.
func (s *localStore) add(sl slot, n int64) {
	if s.expires == nil {
		s.expires = map[string]time.Time{}
	}
	s.used[sl.key] += n
	s.expires[sl.key] = sl.ends
	if len(s.expires) > 64 {
		for k, e := range s.expires {
			if e.Before(sl.ends.Add(-24 * time.Hour)) {
				delete(s.expires, k)
				delete(s.used, k)
			}
		}
	}
}

func (s *localStore) observe(_ context.Context, _ time.Time, used []slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range used {
		if sl.cost > s.used[sl.key] {
			s.add(sl, sl.cost-s.used[sl.key])
		}
	}
}

func (s *localStore) backoff(_ context.Context, _, until time.Time) {
	s.mu.Lock()
	if until.After(s.until) {
		s.until = until
	}
	s.mu.Unlock()
}

type redisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

//go:embed limiter_take.lua
var takeLua string

//go:embed limiter_observe.lua
var observeLua string

var (
	takeScript    = redis.NewScript(takeLua)
	observeScript = redis.NewScript(observeLua)
)

func (s *redisStore) take(ctx context.Context, _ time.Time, slots []slot) (int, time.Time, error) {
	keys := []string{s.prefix + "backoff"}
	args := []any{}
	for _, sl := range slots {
		keys = append(keys, s.prefix+sl.key)
		args = append(args, sl.cost, sl.ceiling, sl.ends.UnixMilli())
	}
	res, err := takeScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(res) != 2 {
		return 0, time.Time{}, fmt.Errorf("take script answered %v", res)
	}
	if res[0] == 0 {
		return 0, time.UnixMilli(res[1]), nil
	}
	if res[0] < 0 {
		return -1, time.Time{}, nil
	}
	return int(res[0] - 1), time.Time{}, nil
}

func (s *redisStore) observe(ctx context.Context, _ time.Time, used []slot) {
	s.run(ctx, time.Time{}, used) // best effort: the next take still counts
}

func (s *redisStore) backoff(ctx context.Context, _, until time.Time) {
	s.run(ctx, until, nil)
}

// run raises counters to the venue's counts and sets a back-off, in one
// script.
func (s *redisStore) run(ctx context.Context, until time.Time, used []slot) {
	keys := []string{s.prefix + "backoff"}
	var ms int64
	if !until.IsZero() {
		ms = until.UnixMilli()
	}
	args := []any{ms}
	for _, sl := range used {
		keys = append(keys, s.prefix+sl.key)
		args = append(args, sl.cost, sl.ends.UnixMilli())
	}
	observeScript.Run(ctx, s.rdb, keys, args...)
}
