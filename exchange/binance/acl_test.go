package binance_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/binance/binancefake"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
)

// TestRedisLimiterUnderTheApplyLayersACL: the shared limiter works as the
// apply layer's Redis user of deploy/redis/users.acl (its keys are under
// quantum:apply:*, its scripts use only GET, SET and TIME): a take, the
// headers and a 429's back-off, on a real redis-server.
func TestRedisLimiterUnderTheApplyLayersACL(t *testing.T) {
	b, err := os.ReadFile("../../deploy/redis/users.acl")
	if err != nil {
		t.Fatal(err)
	}
	acl := regexp.MustCompile(`>CHANGE-ME-`).ReplaceAllString(string(b), ">pw-")
	path := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(path, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, redistest.Options{Args: []string{"--aclfile", path}})
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), Username: "quantum-apply-layer", Password: "pw-apply-layer"})
	t.Cleanup(func() { rdb.Close() })

	f := binancefake.New(apiKey, apiSecret, binancefake.BTC)
	t.Cleanup(f.Close)
	creds, _ := binance.NewCredentials(apiKey, apiSecret)
	c, err := binance.Open(context.Background(), binance.Config{BaseURL: f.URL(), Credentials: creds,
		Limiter: binance.NewRedisLimiter(rdb, keys.DefaultPrefix)})
	if err != nil {
		t.Fatalf("Open with the limiter as the apply layer's user: %v", err)
	}
	r := &rig{t: t, fake: f, c: c}
	r.place(marketOrder("qt-acl-1", "BTCUSDT", market.Buy, "0.002", false))
	f.Inject("/fapi/v1/premiumIndex", binancefake.Fault{Status: 429, Code: -1003, Msg: "Too many requests.", RetryAfter: "30"})
	if _, err := c.MarkPrice(context.Background(), "ETHUSDT"); err == nil {
		t.Fatal("429 not returned")
	}
	// The back-off is in Redis: a second client of the same prefix stops.
	other, err := binance.New(binance.Config{BaseURL: f.URL(), Credentials: creds, Limiter: binance.NewRedisLimiter(rdb, keys.DefaultPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.MarkPrice(context.Background(), "BTCUSDT")
	var rl *binance.RateLimited
	if !errors.As(err, &rl) || rl.Status != 0 {
		t.Fatalf("the other client during the back-off: %v, want RateLimited not sent", err)
	}
	n, err := rdb.Keys(context.Background(), "*").Result()
	if err == nil {
		t.Fatalf("the apply layer's user may list keys (%v): the ACL changed?", n)
	}
}
