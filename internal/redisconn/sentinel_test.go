package redisconn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/internal/redistest"
)

// TestSentinelAuth: on real processes with auth on the servers
// (requirepass) and on the sentinels (their own requirepass), the URL's
// password reaches the servers and sentinel_password the sentinels; a URL
// missing either, or with a wrong one, fails, and no error shows a password.
func TestSentinelAuth(t *testing.T) {
	ss := redistest.StartSentinelsWith(t, redistest.SentinelOptions{Password: "srv-secret", SentinelPassword: "snt-secret"})
	hosts := strings.Join(ss.SentinelAddrs(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	try := func(url string) error {
		c, err := redisconn.Open(url, redisconn.Options{})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			return err
		}
		return c.Get(ctx, "k").Err()
	}
	if err := try("redis+sentinel://:srv-secret@" + hosts + "/" + redistest.MasterName + "/0?sentinel_password=snt-secret"); err != nil {
		t.Fatalf("both passwords: %v", err)
	}
	for _, bad := range []string{
		"redis+sentinel://:srv-secret@" + hosts + "/" + redistest.MasterName + "/0",                                // no sentinel password
		"redis+sentinel://:wrong-secret@" + hosts + "/" + redistest.MasterName + "/0?sentinel_password=snt-secret", // wrong server password
		"redis+sentinel://" + hosts + "/" + redistest.MasterName + "/0?sentinel_password=snt-secret",               // no server password
		"redis+sentinel://:srv-secret@" + hosts + "/nosuchmaster/0?sentinel_password=snt-secret",                   // unknown master
	} {
		err := try(bad)
		if err == nil {
			t.Errorf("%s: accepted", redisconn.Redact(bad))
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows a password: %v", err)
		}
	}
}
