package binancefake

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit is one entry of exchangeInfo's rateLimits.
type RateLimit struct {
	Type        string // REQUEST_WEIGHT or ORDERS
	Interval    string // SECOND, MINUTE, HOUR or DAY
	IntervalNum int
	Limit       int
}

// DefaultRateLimits are USD-M futures' documented defaults: 2,400 request
// weight a minute per IP, 1,200 orders a minute and 300 every 10 seconds
// per account.
var DefaultRateLimits = []RateLimit{
	{Type: "REQUEST_WEIGHT", Interval: "MINUTE", IntervalNum: 1, Limit: 2400},
	{Type: "ORDERS", Interval: "MINUTE", IntervalNum: 1, Limit: 1200},
	{Type: "ORDERS", Interval: "SECOND", IntervalNum: 10, Limit: 300},
}

// weights are the documented request weights of the endpoints the fake
// serves ("Request Weight" on each endpoint's page). POST /fapi/v1/order
// weighs 0 on the IP limit and 1 on each ORDERS limit.
var weights = map[string]int{
	"GET /fapi/v1/time": 1, "GET /fapi/v1/exchangeInfo": 1, "GET /fapi/v1/premiumIndex": 1,
	"GET /fapi/v1/positionSide/dual": 30, "POST /fapi/v1/order": 0, "GET /fapi/v1/order": 1,
	"POST /fapi/v1/leverage": 1, "GET /fapi/v3/positionRisk": 5, "GET /fapi/v2/account": 5,
	"GET /fapi/v1/apiTradingStatus": 1, "GET /fapi/v1/leverageBracket": 1, "GET /fapi/v1/allOrders": 5,
	"GET /fapi/v1/income": 30,
}

// meter counts weight and orders in fixed windows aligned to the epoch, as
// Binance's are (a minute window starts on the minute).
type meter struct {
	limits    []RateLimit
	used      map[string]int // "<limit index>/<window number>" -> used
	bannedTo  time.Time      // 429's Retry-After: a request before it is answered 418
	limited   int            // 429 answers
	banned    int            // 418 answers
	maxWeight int            // the highest weight used in any window
}

func newMeter(limits []RateLimit) meter {
	return meter{limits: limits, used: map[string]int{}}
}

func (l RateLimit) window() time.Duration {
	unit := map[string]time.Duration{"SECOND": time.Second, "MINUTE": time.Minute, "HOUR": time.Hour, "DAY": 24 * time.Hour}[l.Interval]
	return time.Duration(l.IntervalNum) * unit
}

// header is the limit's response header, e.g. X-MBX-USED-WEIGHT-1M.
func (l RateLimit) header() string {
	name := "X-Mbx-Used-Weight-"
	if l.Type == "ORDERS" {
		name = "X-Mbx-Order-Count-"
	}
	return name + strconv.Itoa(l.IntervalNum) + l.Interval[:1]
}

// SetRateLimits replaces the limits the fake enforces and lists in
// exchangeInfo, and clears the counts.
func (f *Fake) SetRateLimits(limits ...RateLimit) {
	f.mu.Lock()
	f.meter = newMeter(limits)
	f.mu.Unlock()
}

// RateStats are what the meter saw.
type RateStats struct {
	Limited   int // 429 answers
	Banned    int // 418 answers
	MaxWeight int // the highest request weight used in one window
}

// RateStats returns what the meter saw.
func (f *Fake) RateStats() RateStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.meter
	return RateStats{Limited: m.limited, Banned: m.banned, MaxWeight: m.maxWeight}
}

// charge meters one request: it adds its weight (and, for an order, one to
// each ORDERS window), sets the usage headers, and refuses it with 429 when
// a limit would be exceeded, or with 418 while a 429's Retry-After runs.
// It returns the refusal and its Retry-After in seconds.
func (f *Fake) charge(h http.Header, r *http.Request, ep endpoint) (*venueError, string) {
	key := r.Method + " " + r.URL.Path
	weight := weights[key]
	if key == "GET /fapi/v1/apiTradingStatus" && !strings.Contains(r.URL.RawQuery, "symbol=") {
		weight = 10
	}
	order := key == "POST /fapi/v1/order"
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &f.meter
	now := f.now().Add(f.skew)
	if now.Before(m.bannedTo) {
		m.banned++
		m.bannedTo = now.Add(2 * time.Minute)
		return fail(http.StatusTeapot, -1003, "Way too many requests; IP banned until %d. Please use the websocket for live updates to avoid bans.", m.bannedTo.UnixMilli()), "120"
	}
	type slot struct {
		key string
		add int
		l   RateLimit
		end time.Time
	}
	var slots []slot
	for i, l := range m.limits {
		add := weight
		if l.Type == "ORDERS" {
			if !order {
				continue
			}
			add = 1
		}
		w := l.window()
		if w <= 0 {
			continue
		}
		n := now.UnixNano() / int64(w)
		slots = append(slots, slot{key: strconv.Itoa(i) + "/" + strconv.FormatInt(n, 10), add: add, l: l, end: time.Unix(0, (n+1)*int64(w))})
	}
	for _, s := range slots {
		if m.used[s.key]+s.add > s.l.Limit {
			m.limited++
			retry := strconv.Itoa(int(s.end.Sub(now)/time.Second) + 1)
			if s.l.Type == "ORDERS" {
				return fail(http.StatusTooManyRequests, -1015, "Too many new orders; current limit is %d orders per %s.", s.l.Limit, s.l.window()), retry
			}
			m.bannedTo = s.end
			return fail(http.StatusTooManyRequests, -1003, "Too many requests; current limit is %d requests per minute. Please use the websocket for live updates to avoid polling the API.", s.l.Limit), retry
		}
	}
	for _, s := range slots {
		m.used[s.key] += s.add
		h.Set(s.l.header(), strconv.Itoa(m.used[s.key]))
		if s.l.Type == "REQUEST_WEIGHT" {
			m.maxWeight = max(m.maxWeight, m.used[s.key])
		}
	}
	return nil, ""
}
