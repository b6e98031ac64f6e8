package redisconn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseForms(t *testing.T) {
	for _, tc := range []struct {
		url  string
		kind Kind
	}{
		{"redis://127.0.0.1:6379/0", Single},
		{"rediss://u:p@h:6380/2", Single},
		{"unix:///run/redis.sock?db=1", Single},
		{"redis+sentinel://a:26379/mymaster", Sentinel},
		{"redis+sentinel://u:pw@a:26379,b:26380,[::1]:26381/mymaster/3?sentinel_password=sp&dial_timeout=1s", Sentinel},
		{"rediss+sentinel://a:26379/m", Sentinel},
		{"redis+cluster://a:7000,b:7001,c:7002", Cluster},
		{"rediss+cluster://u:p@a:7000/", Cluster},
	} {
		tg, err := Parse(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if tg.Kind != tc.kind {
			t.Errorf("%s: kind %s, want %s", tc.url, tg.Kind, tc.kind)
		}
	}
}

func TestSentinelFields(t *testing.T) {
	tg, err := Parse("redis+sentinel://app:secret@a:26379,b:26380/prod/3?sentinel_user=s&sentinel_password=spw&read_timeout=7")
	if err != nil {
		t.Fatal(err)
	}
	fo := tg.failover
	if fo.MasterName != "prod" || fo.DB != 3 || strings.Join(fo.SentinelAddrs, ",") != "a:26379,b:26380" {
		t.Errorf("master %q db %d addrs %v", fo.MasterName, fo.DB, fo.SentinelAddrs)
	}
	// The authority's credentials are the server's; the sentinels' come from the query.
	if fo.Username != "app" || fo.Password != "secret" || fo.SentinelUsername != "s" || fo.SentinelPassword != "spw" {
		t.Errorf("credentials: %q %q %q %q", fo.Username, fo.Password, fo.SentinelUsername, fo.SentinelPassword)
	}
	if fo.ReadTimeout != 7*time.Second {
		t.Errorf("read timeout %s", fo.ReadTimeout)
	}
	if r := tg.Redacted(); strings.Contains(r, "secret") || strings.Contains(r, "spw") {
		t.Errorf("redacted URL shows a password: %s", r)
	}
}

func TestParseErrorsHideSecrets(t *testing.T) {
	for _, bad := range []string{
		"redis+sentinel://u:hunter2@a:26379",                                     // no master
		"redis+sentinel://u:hunter2@a:26379/m/x",                                 // bad db
		"redis+sentinel://u:hunter2@a:26379/m/1/2",                               // too deep
		"redis+sentinel://u:hunter2@a/m",                                         // no port
		"redis+sentinel://u:hunter2@a:26379/m?sentinel_password=hunter2&bogus=1", // unknown param
		"redis+cluster://u:hunter2@a:7000/5",                                     // db on a cluster
		"redis+cluster://u:hunter2@a:99999",                                      // bad port
		"redis+cluster://u:hunter2@a:7000?read_timeout=soon",                     // bad duration
		"redis://u:hunter2@a:6379/notadb",                                        // go-redis' own error
		"memcache://u:hunter2@a:1",                                               // unknown scheme
		"redis://u:hunter2@a:6379/%zz",                                           // url.Error
	} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("%s accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestClusterNeedsHashTag(t *testing.T) {
	for _, p := range []string{"quantum", "{}quantum", "quantum}{", "q{}"} {
		_, err := Open("redis+cluster://127.0.0.1:7000", Options{Prefix: p})
		if !errors.Is(err, ErrClusterPrefix) {
			t.Errorf("prefix %q: %v, want ErrClusterPrefix", p, err)
		}
	}
	for _, p := range []string{"{quantum}", "x{q}", "{a}:b"} {
		c, err := Open("redis+cluster://127.0.0.1:7000", Options{Prefix: p})
		if err != nil {
			t.Errorf("prefix %q: %v", p, err)
			continue
		}
		if _, ok := c.(*redis.ClusterClient); !ok {
			t.Errorf("prefix %q: %T, want a cluster client", p, c)
		}
		c.Close()
	}
	// A single server takes any prefix.
	c, err := Open("redis://127.0.0.1:6379", Options{Prefix: "quantum"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestDefaultsAndBlocking(t *testing.T) {
	c, err := Open("redis://127.0.0.1:6379/0?read_timeout=9s", Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := c.(*redis.Client).Options()
	if o.ReadTimeout != 9*time.Second || o.DialTimeout != DefaultDialTimeout || o.MaxRetries != 1 || o.ContextTimeoutEnabled {
		t.Errorf("single: read %s dial %s retries %d ctx %v", o.ReadTimeout, o.DialTimeout, o.MaxRetries, o.ContextTimeoutEnabled)
	}
	c.Close()
	c, err = Open("redis+sentinel://127.0.0.1:1/m", Options{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	o = c.(*redis.Client).Options()
	if o.ReadTimeout != BlockingReadTimeout || !o.ContextTimeoutEnabled || o.WriteTimeout != DefaultWriteTimeout {
		t.Errorf("sentinel blocking: read %s ctx %v write %s", o.ReadTimeout, o.ContextTimeoutEnabled, o.WriteTimeout)
	}
	c.Close()
	c, err = Open("redis+cluster://127.0.0.1:1", Options{Prefix: "{q}", Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	co := c.(*redis.ClusterClient).Options()
	if co.ReadTimeout != BlockingReadTimeout || !co.ContextTimeoutEnabled || co.DialTimeout != DefaultDialTimeout {
		t.Errorf("cluster blocking: read %s ctx %v dial %s", co.ReadTimeout, co.ContextTimeoutEnabled, co.DialTimeout)
	}
	c.Close()
}
