package binance_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quantumtrader/quantum/exchange/binance"
)

// TestSettingsConfig: an environment name becomes its URL, the files
// override the variables, the timeout is kept; an unusable secret file is
// refused, never a Config without credentials.
func TestSettingsConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile, secretFile := filepath.Join(dir, "key"), filepath.Join(dir, "secret")
	for p, v := range map[string]string{keyFile: apiKey, secretFile: apiSecret} {
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	noEnv := func(string) string { return "" }
	cfg, err := binance.Settings{URL: "demo", KeyFile: keyFile, SecretFile: secretFile, Timeout: 3 * time.Second}.Config(noEnv, time.Now, slog.New(slog.DiscardHandler))
	if err != nil || cfg.BaseURL != binance.DemoURL || cfg.Credentials.APIKey != apiKey || cfg.Timeout != 3*time.Second || cfg.Now == nil || cfg.Log == nil {
		t.Fatalf("%+v, %v", cfg, err)
	}
	os.Chmod(secretFile, 0o644)
	if _, err := (binance.Settings{URL: "demo", KeyFile: keyFile, SecretFile: secretFile}).Config(noEnv, time.Now, nil); err == nil {
		t.Fatal("a world-readable secret file was accepted")
	}
}
