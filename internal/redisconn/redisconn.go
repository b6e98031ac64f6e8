// Package redisconn opens the Redis client of every command from one URL
// (--redis, QUANTUM_REDIS_URL), whatever the deployment: a single server, a
// Sentinel-managed primary with replicas, or a Redis Cluster.
//
// URL forms (SPEC.md):
//
//	redis://[user:password@]host:port[/DB][?dial_timeout=3s&...]
//	rediss://...                         the same over TLS
//	unix://[user:password@]/path/redis.sock[?db=N]
//	redis+sentinel://[user:password@]host:port[,host:port...]/MASTER[/DB][?sentinel_user=U&sentinel_password=P]
//	rediss+sentinel://...                the same over TLS (sentinels and servers)
//	redis+cluster://[user:password@]host:port[,host:port...]
//	rediss+cluster://...                 the same over TLS
//
// Credentials. In a Sentinel URL the user:password of the authority is the
// one the primary and replicas take (the ACL user of the command, as with
// redis://), because that is the identity whose key permissions matter and
// the one an operator already writes. Sentinels are usually run without
// auth or with a password of their own (sentinel.conf requirepass): that is
// given with the query parameters sentinel_user and sentinel_password, so
// that a Sentinel without auth needs nothing more. sentinel_password is
// redacted from every message like the URL's own password.
//
// Timeouts are short unless the URL sets them (dial_timeout, read_timeout,
// write_timeout, max_retries as query parameters): a command facing a dead
// Redis fails in seconds, not minutes. Open with Options.Blocking for stream
// consumers: their reads honour the context (so SIGTERM interrupts them) and
// wait longer.
//
// Following a failover is go-redis's: the failover client asks the sentinels
// for the primary's address on every new connection and drops its pool on
// +switch-master; the cluster client follows MOVED and ASK redirections and
// reloads the slot map. A command in flight when the primary dies fails
// (the caller retries as it would any Redis error); the next ones reach the
// promoted replica.
//
// Redis Cluster has one rule this package enforces at open: every key of
// one Lua script must hash to one slot, and the governance core's scripts
// (policy publish, the apply layer's record and result scripts, the alert
// dedupe) touch several keys. Only a prefix with a hash tag, such as
// "{quantum}", puts all keys in one slot, so a cluster URL with any other
// prefix is refused (ErrClusterPrefix). The key names of SPEC.md stay the
// same inside the tag: {quantum}:stream:apply.plan.
package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kind is the deployment a URL names.
type Kind int

// Deployments.
const (
	Single   Kind = iota // one server: redis://, rediss://, unix://
	Sentinel             // a primary found through Sentinel: redis+sentinel://
	Cluster              // a Redis Cluster: redis+cluster://
)

func (k Kind) String() string {
	switch k {
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	}
	return "single"
}

// Defaults applied when the URL does not set them.
const (
	DefaultDialTimeout  = 3 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	// BlockingReadTimeout is the read timeout of blocking clients: above
	// the consumers' XREADGROUP BLOCK, which go-redis adds to it anyway.
	BlockingReadTimeout = 5 * time.Second
)

// Options tune Open.
type Options struct {
	// Prefix is the key prefix the client will use (--prefix). A cluster
	// URL is refused unless it carries a hash tag (ErrClusterPrefix).
	Prefix string
	// Blocking makes reads honour the context and wait BlockingReadTimeout,
	// for commands that block on streams.
	Blocking bool
}

// ErrClusterPrefix is the refusal of a cluster URL with a prefix whose keys
// would not share a slot.
//
//lint:ignore ST1005 it starts with the product name, and is shown as is
var ErrClusterPrefix = errors.New("Redis Cluster needs a hash-tagged prefix such as --prefix '{quantum}': the scripts' keys must share a slot; SPEC names stay the same inside the tag")

// Target is a parsed URL: what Open will connect to.
type Target struct {
	Kind     Kind
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
	redacted string
}

// Redacted returns the URL with its passwords hidden, for messages.
func (t *Target) Redacted() string { return t.redacted }

// Parse parses a Redis URL of one of the package's forms. Its errors never
// contain a password.
func Parse(raw string) (*Target, error) {
	red := Redact(raw)
	t, err := parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("--redis %s: %w", red, err)
	}
	t.redacted = red
	return t, nil
}

func parse(raw string) (*Target, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("not a URL: want redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://")
	}
	switch scheme {
	case "redis", "rediss", "unix":
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		return &Target{Kind: Single, single: opt}, nil
	case "redis+sentinel", "rediss+sentinel":
		return parseSentinel(raw, scheme == "rediss+sentinel")
	case "redis+cluster", "rediss+cluster":
		return parseCluster(raw, scheme == "rediss+cluster")
	}
	return nil, fmt.Errorf("unknown scheme %q: want redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster", scheme)
}

// common holds what every multi-host URL shares.
type common struct {
	addrs                  []string
	user, password         string
	dial, read, write      time.Duration
	maxRetries             int
	query                  url.Values
	tls                    bool
	firstHost, pathSegment string
}

// splitHosts takes the host list out of a multi-host URL, which url.Parse
// cannot read when it holds an IPv6 literal, and returns the URL with a
// placeholder host in its place.
func splitHosts(raw string) (single string, hosts []string) {
	scheme, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	return scheme + "://" + userinfo + "hosts" + tail, strings.Split(authority, ",")
}

func parseCommon(raw string, tlsOn bool) (*common, error) {
	single, hosts := splitHosts(raw)
	u, err := url.Parse(single)
	if err != nil {
		return nil, err
	}
	c := &common{query: u.Query(), tls: tlsOn}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	for _, hp := range hosts {
		h, p, err := net.SplitHostPort(hp)
		if err != nil || h == "" || p == "" {
			return nil, fmt.Errorf("address %q: want host:port", hp)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("address %q: bad port", hp)
		}
		c.addrs = append(c.addrs, net.JoinHostPort(h, p))
		if c.firstHost == "" {
			c.firstHost = h
		}
	}
	c.pathSegment = u.Path
	durations := map[string]*time.Duration{"dial_timeout": &c.dial, "read_timeout": &c.read, "write_timeout": &c.write}
	for name, d := range durations {
		if v := c.query.Get(name); v != "" {
			if *d, err = parseDuration(v); err != nil {
				return nil, fmt.Errorf("%s=%s: %w", name, v, err)
			}
		}
		c.query.Del(name)
	}
	if v := c.query.Get("max_retries"); v != "" {
		if c.maxRetries, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("max_retries=%s: not an integer", v)
		}
	}
	c.query.Del("max_retries")
	return c, nil
}

// parseDuration takes a Go duration or, as go-redis does, plain seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func (c *common) leftover() error {
	if len(c.query) == 0 {
		return nil
	}
	names := make([]string, 0, len(c.query))
	for k := range c.query {
		names = append(names, k)
	}
	return fmt.Errorf("unknown query parameter(s): %s", strings.Join(names, ", "))
}

func parseSentinel(raw string, tlsOn bool) (*Target, error) {
	c, err := parseCommon(raw, tlsOn)
	if err != nil {
		return nil, err
	}
	parts := strings.FieldsFunc(c.pathSegment, func(r rune) bool { return r == '/' })
	if len(parts) < 1 || len(parts) > 2 {
		return nil, errors.New("want /MASTER or /MASTER/DB after the sentinel addresses")
	}
	fo := &redis.FailoverOptions{
		MasterName: parts[0], SentinelAddrs: c.addrs,
		Username: c.user, Password: c.password,
		SentinelUsername: c.query.Get("sentinel_user"), SentinelPassword: c.query.Get("sentinel_password"),
		DialTimeout: c.dial, ReadTimeout: c.read, WriteTimeout: c.write, MaxRetries: c.maxRetries,
	}
	c.query.Del("sentinel_user")
	c.query.Del("sentinel_password")
	if len(parts) == 2 {
		if fo.DB, err = strconv.Atoi(parts[1]); err != nil || fo.DB < 0 {
			return nil, fmt.Errorf("database %q: not a number", parts[1])
		}
	}
	if err := c.leftover(); err != nil {
		return nil, err
	}
	if tlsOn {
		fo.TLSConfig = tlsConfig(c.firstHost)
	}
	return &Target{Kind: Sentinel, failover: fo}, nil
}

func parseCluster(raw string, tlsOn bool) (*Target, error) {
	c, err := parseCommon(raw, tlsOn)
	if err != nil {
		return nil, err
	}
	if strings.Trim(c.pathSegment, "/") != "" && strings.Trim(c.pathSegment, "/") != "0" {
		return nil, errors.New("a Redis Cluster has database 0 only: drop the path")
	}
	co := &redis.ClusterOptions{
		Addrs: c.addrs, Username: c.user, Password: c.password,
		DialTimeout: c.dial, ReadTimeout: c.read, WriteTimeout: c.write, MaxRetries: c.maxRetries,
	}
	if err := c.leftover(); err != nil {
		return nil, err
	}
	if tlsOn {
		co.TLSConfig = tlsConfig(c.firstHost)
	}
	return &Target{Kind: Cluster, cluster: co}, nil
}

// Open parses raw and returns a client for it. The caller closes it.
func Open(raw string, o Options) (redis.UniversalClient, error) {
	t, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	return t.Open(o)
}

// Open returns a new client for the target. The caller closes it.
func (t *Target) Open(o Options) (redis.UniversalClient, error) {
	switch t.Kind {
	case Sentinel:
		fo := *t.failover
		tune(o, &fo.DialerRetries, &fo.MaxRetries, &fo.DialTimeout, &fo.ReadTimeout, &fo.WriteTimeout, &fo.ContextTimeoutEnabled)
		return redis.NewFailoverClient(&fo), nil
	case Cluster:
		if !HasHashTag(o.Prefix) {
			return nil, fmt.Errorf("--redis %s with --prefix %q: %w", t.redacted, o.Prefix, ErrClusterPrefix)
		}
		co := *t.cluster
		tune(o, &co.DialerRetries, &co.MaxRetries, &co.DialTimeout, &co.ReadTimeout, &co.WriteTimeout, &co.ContextTimeoutEnabled)
		return redis.NewClusterClient(&co), nil
	}
	opt := *t.single
	tune(o, &opt.DialerRetries, &opt.MaxRetries, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.ContextTimeoutEnabled)
	return redis.NewClient(&opt), nil
}

// tune sets the defaults of the fields the URL left zero, and the blocking
// read settings, on any of go-redis's option structs.
func tune(o Options, dialerRetries, maxRetries *int, dial, read, write *time.Duration, ctxTimeout *bool) {
	*dialerRetries, *maxRetries = orInt(*dialerRetries, 2), orInt(*maxRetries, 1)
	*dial, *read, *write = or(*dial, DefaultDialTimeout), or(*read, DefaultReadTimeout), or(*write, DefaultWriteTimeout)
	if o.Blocking {
		*ctxTimeout, *read = true, BlockingReadTimeout
	}
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// HasHashTag reports whether every key under prefix hashes to one Redis
// Cluster slot: the prefix holds a hash tag, a '{' followed later by a '}'
// with at least one character between (the cluster's rule looks at the
// first '{' of the key and the first '}' after it).
func HasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}

// Redact hides the passwords of a Redis URL (the authority's and the
// sentinel_password query parameter), for messages and logs.
func Redact(raw string) string {
	single, hosts := raw, []string(nil)
	if scheme, _, _ := strings.Cut(raw, "://"); strings.Contains(scheme, "+") {
		single, hosts = splitHosts(raw)
	}
	u, err := url.Parse(single)
	if err != nil {
		return "(unparsable URL)"
	}
	if q := u.Query(); q.Has("sentinel_password") {
		q.Set("sentinel_password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	if hosts != nil {
		u.Host = strings.Join(hosts, ",")
	}
	return u.Redacted()
}

func tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}
