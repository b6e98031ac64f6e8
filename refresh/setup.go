package refresh

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// Setup is a refresh as `quantum policy refresh` is configured: file
// paths, the source and durations as its flags and environment give them.
// Check validates them and loads the keys; Open wires the Refresher over a
// Redis client. Their errors are the operator's (usage) errors, recorded
// nowhere; a key that cannot be loaded is not one of them: it is refused by
// the run, audited and alerted, since under the timer nobody reads the
// terminal.
type Setup struct {
	Template, Generator string // --template FILE, --generator COMMAND
	// TemplateFlag and GeneratorFlag say which of the two were given on
	// the command line: a flag wins over both variables.
	TemplateFlag, GeneratorFlag bool
	GeneratorTimeout            time.Duration
	KeyPath                     string // --key: the signing key's file
	Pubkeys                     string // --pubkey: trusted public key files, comma-separated
	Validity, Interval          time.Duration
	MaxLeverage                 int           // 0: no cap beyond policy.MaxLeverage
	ExpiryAlarm                 time.Duration // 0: off
	RepeatInterval              time.Duration
	Actor                       string
	Keys                        keys.Space
	Now                         func() time.Time
	Log                         *slog.Logger

	src    Source
	key    *policy.PrivateKey
	keyErr error
	ring   *policy.TrustedKeys
}

// Check picks the source, validates the values and loads the signing and
// trusted keys (logging a warning when no trusted key is configured).
func (s *Setup) Check() error {
	var err error
	if s.src, err = s.source(); err != nil {
		return err
	}
	switch {
	case s.KeyPath == "":
		return fmt.Errorf("--key FILE (or QUANTUM_POLICY_KEY) is required")
	case s.MaxLeverage < 0 || s.MaxLeverage > policy.MaxLeverage:
		return fmt.Errorf("--max-leverage %d: want 1..%d, or 0 for no cap", s.MaxLeverage, policy.MaxLeverage)
	case s.Validity <= 0 || s.Interval <= 0 || s.GeneratorTimeout <= 0 || s.ExpiryAlarm < 0 || s.RepeatInterval < time.Second:
		return fmt.Errorf("--validity, --interval and --generator-timeout must be positive, --expiry-alarm >= 0, --repeat-interval >= 1s")
	}
	s.key, s.keyErr = policy.LoadPrivateKey(s.KeyPath)
	s.ring = policy.NewTrustedKeys()
	if s.keyErr == nil {
		s.ring = policy.NewTrustedKeys(s.key.Public())
	}
	if paths := secretfile.SplitList(s.Pubkeys); len(paths) > 0 {
		if s.ring, err = policy.LoadTrustedKeys(paths...); err != nil {
			s.ring, s.keyErr = policy.NewTrustedKeys(), fmt.Errorf("trusted public keys: %w", err)
		}
	} else {
		s.Log.Warn("[POLICY-REFRESH] no --pubkey / QUANTUM_POLICY_PUBKEY: the new policy is checked against the signing key's own public key, not the readers' trusted keys")
	}
	return nil
}

// source picks the template or the generator. Two sources (or none) is a
// usage error, never a guess.
func (s *Setup) source() (Source, error) {
	template, generator := s.Template, s.Generator
	switch {
	case s.TemplateFlag && s.GeneratorFlag:
		return nil, fmt.Errorf("--template and --generator exclude each other")
	case s.TemplateFlag:
		generator = ""
	case s.GeneratorFlag:
		template = ""
	}
	switch {
	case template != "" && generator != "":
		return nil, fmt.Errorf("both QUANTUM_POLICY_TEMPLATE and QUANTUM_POLICY_GENERATOR are set: keep one, or pick with --template / --generator")
	case template != "":
		return Template{Path: template}, nil
	case generator != "":
		return Generator{Command: generator, Timeout: s.GeneratorTimeout, Log: s.Log}, nil
	}
	return nil, fmt.Errorf("--template FILE or --generator CMD (or QUANTUM_POLICY_TEMPLATE / QUANTUM_POLICY_GENERATOR) is required")
}

// Open returns the Refresher of a checked Setup over rdb: its store, its
// alerts, the clock check against Redis TIME and the run records.
func (s *Setup) Open(rdb redis.UniversalClient) (*Refresher, error) {
	store, err := policystore.New(rdb, policystore.Options{Keys: s.Keys, Keyring: s.ring, Now: s.Now})
	if err != nil {
		return nil, err
	}
	alerts, err := alert.New(rdb, alert.Options{Keys: s.Keys, Now: s.Now})
	if err != nil {
		return nil, err
	}
	return New(Config{
		Store: store, Alerts: alerts, Source: s.src, Log: s.Log, Now: s.Now,
		Key: func() (*policy.PrivateKey, error) {
			if s.keyErr != nil {
				return nil, reason.Errorf(reason.RefreshConfigInvalid, "%w", s.keyErr)
			}
			return s.key, nil
		},
		Validity: s.Validity, Interval: s.Interval, MaxLeverage: s.MaxLeverage,
		ExpiryAlarm: s.ExpiryAlarm, NoExpiryAlarm: s.ExpiryAlarm == 0, RepeatInterval: s.RepeatInterval, Actor: s.Actor,
		RedisClock: func(ctx context.Context) (time.Duration, error) {
			clk, err := redischeck.ClockOffset(ctx, rdb, s.Now)
			return clk.Offset, err
		},
		Runs: RedisRuns{Redis: rdb, Key: s.Keys.RefreshRuns(), Stale: s.GeneratorTimeout + time.Minute},
	})
}

// ReaderAlarm is the expiry alarm of a one-shot reader (`quantum policy
// verify`): ExpiryAlarm over a Redis client of its own, with what it did
// logged. Its errors are logged, not returned: the reader's exit status
// speaks of the policy.
type ReaderAlarm struct {
	// Redis opens the client (only when the alarm is on); it is closed
	// after the check.
	Redis     func() (redis.UniversalClient, error)
	Keys      keys.Space
	Now       func() time.Time
	Log       *slog.Logger
	Threshold time.Duration // 0: off
	Repeat    time.Duration
}

// Check runs the alarm on a verified policy at now.
func (a ReaderAlarm) Check(ctx context.Context, sp *policy.Signed, now time.Time) alert.Result {
	if a.Threshold <= 0 {
		return alert.Result{}
	}
	const tag = "[POLICY-EXPIRY]"
	if left := sp.Remaining(now); left < a.Threshold {
		a.Log.Warn(fmt.Sprintf("%s POLICY_EXPIRING: policy_seq=%d valid_until=%d remaining_sec=%d threshold_sec=%d",
			tag, sp.Seq, sp.ValidUntil, int64(left/time.Second), int64(a.Threshold/time.Second)))
	}
	rdb, err := a.Redis()
	if err != nil {
		alert.LogResult(a.Log, tag, alert.TypePolicyExpiring, alert.Result{}, err)
		return alert.Result{}
	}
	defer rdb.Close()
	alerts, err := alert.New(rdb, alert.Options{Keys: a.Keys, Now: a.Now})
	var res alert.Result
	if err == nil {
		res, err = ExpiryAlarm{Alerts: alerts, Threshold: a.Threshold, Repeat: a.Repeat}.Check(ctx, sp, nil, now)
	}
	alert.LogResult(a.Log, tag, alert.TypePolicyExpiring, res, err)
	return res
}

// Dial is Open over a new client of dial, and a function that closes the
// client (closed at once when the Refresher cannot be made).
func (s *Setup) Dial(dial func() (redis.UniversalClient, error)) (*Refresher, func(), error) {
	rdb, err := dial()
	if err != nil {
		return nil, nil, err
	}
	r, err := s.Open(rdb)
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return r, func() { rdb.Close() }, nil
}

// RefusalJSON is a refused run as policy refresh --json prints it.
func RefusalJSON(err error, auditID string) map[string]any {
	return map[string]any{"published": false, "reason": reason.CodeOf(err), "error": err.Error(), "audit_entry_id": auditID}
}
