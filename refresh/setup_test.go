package refresh_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

// TestSetupDial: a client that cannot be made is Dial's error; over a real
// Redis the Refresher publishes, and the closer closes the client it made.
func TestSetupDial(t *testing.T) {
	env := redistest.New(t)
	dir := t.TempDir()
	keyPath, _, err := policy.WriteKeyPair(filepath.Join(dir, "keys"), policytest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(template, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s := refresh.Setup{Template: template, KeyPath: keyPath, GeneratorTimeout: time.Second, Validity: 2 * time.Hour, Interval: 30 * time.Minute,
		RepeatInterval: time.Hour, Actor: "test", Keys: env.Keys, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Dial(func() (redis.UniversalClient, error) { return nil, errors.New("dial refused") }); err == nil || err.Error() != "dial refused" {
		t.Fatalf("dial error: %v", err)
	}
	var made redis.UniversalClient
	r, closeRefresher, err := s.Dial(func() (redis.UniversalClient, error) { made = env.Server.Client(); return made, nil })
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background())
	if err != nil || rep.Policy == nil || rep.Policy.Seq != 1 {
		t.Fatalf("run: %+v, %v; want policy_seq 1 published", rep, err)
	}
	closeRefresher()
	if err := made.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client after close: %v, want closed", err)
	}
}

func TestRefusalJSON(t *testing.T) {
	j := refresh.RefusalJSON(reason.Errorf(reason.RefreshLeverageAboveCap, "BTCUSDT 20 > 10"), "5-0")
	if j["published"] != false || j["reason"] != reason.RefreshLeverageAboveCap || j["audit_entry_id"] != "5-0" || j["error"] != "REFRESH_LEVERAGE_ABOVE_CAP: BTCUSDT 20 > 10" {
		t.Fatalf("%v", j)
	}
}
