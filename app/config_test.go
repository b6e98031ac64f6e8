package app_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/app"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
)

// TestApplyLayerConfigRefuses: each operator value Build checks is refused
// with the flag it came from, before any service exists; a complete
// configuration builds on a real Redis with the paper venue.
func TestApplyLayerConfigRefuses(t *testing.T) {
	dir := t.TempDir()
	k, err := policy.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, pub, err := policy.WriteKeyPair(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	keyring := filepath.Join(dir, "keyring")
	if err := os.WriteFile(keyring, []byte("exitbrain_v3_5 "+strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Start(t, redistest.Options{}).Client()
	defer rdb.Close()
	good := app.ApplyLayerConfig{
		Keyring: keyring, Pubkeys: pub, Auth: "required", PlanEncodings: "v2", ExitOwner: "exitbrain_v3_5",
		Venue: app.VenueConfig{Kind: app.VenuePaper, Prices: []string{"BTCUSDT=60000"}},
		Redis: rdb, Keys: keys.MustNew("cfgtest"), Now: time.Now, Log: slog.New(slog.DiscardHandler),
	}
	for _, tc := range []struct {
		name string
		mod  func(*app.ApplyLayerConfig)
		want string
	}{
		{"auth", func(c *app.ApplyLayerConfig) { c.Auth = "maybe" }, `--auth "maybe"`},
		{"no keyring", func(c *app.ApplyLayerConfig) { c.Keyring = "" }, "--keyring FILE"},
		{"no pubkey", func(c *app.ApplyLayerConfig) { c.Pubkeys = " , " }, "--pubkey FILE"},
		{"policy encodings", func(c *app.ApplyLayerConfig) { c.PolicyEncodings = "v9" }, policy.EncodingsEnv},
		{"plan encodings", func(c *app.ApplyLayerConfig) { c.PlanEncodings = "v9" }, "--plan-encodings"},
		{"exit owner", func(c *app.ApplyLayerConfig) { c.ExitOwner = "no spaces" }, "--exit-owner"},
		{"min replicas", func(c *app.ApplyLayerConfig) { c.MinReplicas = -1 }, "--min-replicas"},
		{"paper price", func(c *app.ApplyLayerConfig) { c.Venue.Prices = []string{"BTCUSDT"} }, "--paper-price"},
		{"paper step", func(c *app.ApplyLayerConfig) { c.Venue.Steps = []string{"BTCUSDT=x"} }, "--paper-step"},
		{"paper flags on binance", func(c *app.ApplyLayerConfig) {
			c.Venue.Kind = app.VenueBinance
			c.Venue.Binance = func() (binance.Config, error) {
				t.Fatal("credentials read before the paper flags were refused")
				return binance.Config{}, nil
			}
		}, "--paper-price and --paper-step apply to --exchange paper only"},
		{"exchange", func(c *app.ApplyLayerConfig) { c.Venue.Kind = "kraken" }, `--exchange "kraken"`},
		{"result key", func(c *app.ApplyLayerConfig) { c.ResultKey = filepath.Join(dir, "missing") }, "missing"},
	} {
		cfg := good
		cfg.Venue.Prices = append([]string(nil), good.Venue.Prices...)
		tc.mod(&cfg)
		if svc, err := cfg.Build(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (service %v), want an error naming %q", tc.name, err, svc != nil, tc.want)
		}
	}
	if svc, err := good.Build(context.Background()); err != nil || svc == nil {
		t.Fatalf("complete configuration: %v", err)
	}
}
