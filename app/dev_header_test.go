package app

import (
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/keys"
)

// TestDevHeaderKeptByRedraws: every terminal frame starts with the whole
// header (key paths and commands), and the commands are go run lines with
// the Redis URL, the prefix and the key paths; with --redis the header
// says that the keys stay under the prefix.
func TestDevHeaderKeptByRedraws(t *testing.T) {
	h := devHeader{where: "embedded Redis (miniredis) on 127.0.0.1:6399", redisURL: "redis://127.0.0.1:6399/0", cli: "redis-cli -p 6399",
		ks: keys.MustNew("quantum"), dir: "/tmp/quantum-dev-1", pubPath: "/tmp/quantum-dev-1/policy.pub"}
	header := h.String()
	for _, want := range []string{
		"/tmp/quantum-dev-1",
		"go run ./cmd/quantum status --redis redis://127.0.0.1:6399/0 --prefix quantum --pubkey /tmp/quantum-dev-1/policy.pub",
		"go run ./cmd/quantum policy verify --redis redis://127.0.0.1:6399/0 --prefix quantum --pubkey /tmp/quantum-dev-1/policy.pub",
		"go run ./cmd/quantum plan send --redis redis://127.0.0.1:6399/0 --prefix quantum --key-file /tmp/quantum-dev-1/intent_bridge.key",
		"redis-cli -p 6399 XREVRANGE quantum:stream:apply.result + - COUNT 5",
		"go run ./cmd/quantum paper set-price --redis redis://127.0.0.1:6399/0 --prefix quantum BTCUSDT=200000",
	} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
	if strings.Contains(header, "stay after exit") {
		t.Errorf("the embedded Redis header speaks of keys left behind")
	}
	for _, summary := range []string{"=== quantum dev summary 1\n", "=== quantum dev summary 2\n"} {
		frame := string(redrawScreen(header, []byte(summary)))
		if !strings.HasPrefix(frame, "\x1b[H\x1b[2J"+header) || !strings.HasSuffix(frame, summary) {
			t.Fatalf("frame does not keep the header:\n%q", frame)
		}
	}
	h.realRedis, h.ks, h.cli = true, keys.MustNew("quantum-dev"), "redis-cli -u redis://r:6379/0"
	if s := h.String(); !strings.Contains(s, "Redis keys under quantum-dev:* stay after exit") || !strings.Contains(s, "--pattern 'quantum-dev:*'") {
		t.Errorf("--redis header:\n%s", s)
	}
}
