package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

// exitRefreshFailed is policy refresh's failure status (SPEC.md): nothing
// was published and the live policy is untouched. Usage errors share it.
const exitRefreshFailed = 2

func init() {
	cli.Register(&cli.Command{
		Name:    "policy refresh",
		Summary: "build, validate and publish the next policy (the 30-minute timer's job)",
		Help: `Builds the next policy from --template FILE (the JSON that 'policy publish' takes,
read again on every run) or from --generator CMD (a shell command line that prints
that JSON on stdout; it must exit 0 within --generator-timeout, its stderr goes to
this command's log). Then it stamps policy_seq = live + 1 (read before the source
runs), issued_at_epoch = now, valid_until_epoch = now + --validity (a
valid_until_epoch in the content is ignored) and generator; validates, checks
--max-leverage, signs, checks the result exactly as readers will (against
--pubkey / QUANTUM_POLICY_PUBKEY when set), and publishes the policy, its
policy.update event and its audit entry in one atomic step.

A refusal changes nothing live and is recorded: an audit entry with
result=rejected and the reason code, and a POLICY_REFRESH_FAILED alert on
quantum:stream:alerts (deduplicated: one per incident, re-notified every
--repeat-interval, resolved by the next success). Causes and codes:
  REFRESH_GENERATOR_FAILED    the generator could not start or exited non-zero
  REFRESH_GENERATOR_TIMEOUT   the generator ran past --generator-timeout (killed)
  POLICY_PARSE_ERROR          output or template is not the content JSON
  POLICY_INVALID              empty universe, leverage outside 1..125, ...
  REFRESH_LEVERAGE_ABOVE_CAP  a leverage above --max-leverage
  REFRESH_VALIDITY_TOO_SHORT  --validity < --interval + 35m (30m floor + 5m slack)
  POLICY_ROLLBACK             a policy was published by someone else meanwhile
  POLICY_SIGNATURE_INVALID    the signing key is not one the readers trust
  REFRESH_CONFIG_INVALID      the key, public key or template file is unusable
  REFRESH_CLOCK_SKEW          this clock is so far behind Redis TIME that the policy
                              would be stale within the interval, or more than 30s
                              ahead (readers would not accept it yet)
  POLICY_UNAVAILABLE          Redis cannot be read or written

Before the source runs, this clock is compared with Redis TIME: CLOCK_SKEW is
raised (and resolved) on quantum:stream:alerts when the offset is above 15m or
refuses the run. Each run is recorded in quantum:refresh:running while it runs;
the next run writes an audit entry result=interrupted (reason
REFRESH_INTERRUPTED) for a run that was killed before it finished. A killed
refresh's generator is killed with it (its process group).

After every run, POLICY_EXPIRING is raised when the live policy has less than
--expiry-alarm of validity left (or is stale), and resolved when it has more.
Log lines carry [POLICY-REFRESH]; a success logs POLICY_STATE and POLICY_AUDIT.

Exit status: 0 published; 2 refused or failed (the live policy is untouched),
and for usage errors.`,
		Run: runPolicyRefresh,
	})
}

func runPolicyRefresh(ctx context.Context, c *cli.Invocation) int {
	ef := cli.NewEnvFlags(c)
	template := ef.String("template", "QUANTUM_POLICY_TEMPLATE", "policy content `FILE` (JSON), read on every run")
	generator := ef.String("generator", "QUANTUM_POLICY_GENERATOR", "`COMMAND` line that prints the policy content JSON on stdout, run with /bin/sh -c")
	genTimeout := ef.Duration("generator-timeout", "QUANTUM_POLICY_GENERATOR_TIMEOUT", refresh.DefaultGeneratorTimeout, "how long the generator may run before it is killed")
	keyPath := ef.String("key", "QUANTUM_POLICY_KEY", "signing key `FILE`, mode 0600")
	pubkeys := ef.String("pubkey", "QUANTUM_POLICY_PUBKEY", "trusted public key `FILES`, comma-separated: the new policy must verify with them, as readers will verify it")
	validity := ef.Duration("validity", "QUANTUM_POLICY_VALIDITY", refresh.DefaultValidity, "how long each policy stays valid")
	interval := ef.Duration("interval", "QUANTUM_POLICY_REFRESH_INTERVAL", refresh.DefaultInterval, "how often the refresh runs (the timer's OnUnitActiveSec)")
	maxLev := ef.Int("max-leverage", "QUANTUM_POLICY_MAX_LEVERAGE", 0, fmt.Sprintf("refuse a policy with any leverage above `N` (1..%d; 0: no cap beyond %d)", policy.MaxLeverage, policy.MaxLeverage))
	alarm, repeat := alarmFlags(ef)
	actor := c.FS.String("actor", defaultActor(c.Env), "who publishes, for the audit trail")
	asJSON := c.FS.Bool("json", false, "print the result as JSON")
	if code, ok := c.Parse(0); !ok {
		return code // 0 for --help; a usage error is cli.ExitUsage, the same 2 as a failed refresh
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(c.Env.Stderr, "quantum policy refresh: "+format+"\nRun 'quantum help policy refresh' for usage.\n", args...)
		return exitRefreshFailed
	}
	if !ef.Check(c.Env.Stderr) {
		return exitRefreshFailed
	}
	log := c.Logger()
	src, err := refreshSource(c, *template, *generator, *genTimeout, log)
	if err != nil {
		return usage("%v", err)
	}
	switch {
	case *keyPath == "":
		return usage("--key FILE (or QUANTUM_POLICY_KEY) is required")
	case *maxLev < 0 || *maxLev > policy.MaxLeverage:
		return usage("--max-leverage %d: want 1..%d, or 0 for no cap", *maxLev, policy.MaxLeverage)
	case *validity <= 0 || *interval <= 0 || *genTimeout <= 0 || *alarm < 0 || *repeat < time.Second:
		return usage("--validity, --interval and --generator-timeout must be positive, --expiry-alarm >= 0, --repeat-interval >= 1s")
	}

	// Key problems are refusals like any other, audited and alerted, since
	// under the timer nobody reads the terminal: the Key function reports
	// them to the run.
	key, keyErr := policy.LoadPrivateKey(*keyPath)
	ring := policy.NewTrustedKeys()
	if keyErr == nil {
		ring = policy.NewTrustedKeys(key.Public())
	}
	if paths := secretfile.SplitList(*pubkeys); len(paths) > 0 {
		if ring, err = policy.LoadTrustedKeys(paths...); err != nil {
			ring, keyErr = policy.NewTrustedKeys(), fmt.Errorf("trusted public keys: %w", err)
		}
	} else {
		log.Warn("[POLICY-REFRESH] no --pubkey / QUANTUM_POLICY_PUBKEY: the new policy is checked against the signing key's own public key, not the readers' trusted keys")
	}

	rdb, err := c.Redis()
	if err != nil {
		return usage("%v", err)
	}
	defer rdb.Close()
	now := c.Env.Clock()
	store, err := policystore.New(rdb, policystore.Options{Keys: c.Keys(), Keyring: ring, Now: now})
	if err != nil {
		return usage("%v", err)
	}
	alerts, err := alert.New(rdb, alert.Options{Keys: c.Keys(), Now: now})
	if err != nil {
		return usage("%v", err)
	}
	r, err := refresh.New(refresh.Config{
		Store: store, Alerts: alerts, Source: src, Log: log, Now: now,
		Key: func() (*policy.PrivateKey, error) {
			if keyErr != nil {
				return nil, reason.Errorf(reason.RefreshConfigInvalid, "%w", keyErr)
			}
			return key, nil
		},
		Validity: *validity, Interval: *interval, MaxLeverage: *maxLev,
		ExpiryAlarm: *alarm, NoExpiryAlarm: *alarm == 0, RepeatInterval: *repeat, Actor: *actor,
		RedisClock: func(ctx context.Context) (time.Duration, error) {
			clk, err := redischeck.ClockOffset(ctx, rdb, now)
			return clk.Offset, err
		},
		Runs: refresh.RedisRuns{Redis: rdb, Key: c.Keys().RefreshRuns(), Stale: *genTimeout + time.Minute},
	})
	if err != nil {
		return usage("%v", err)
	}
	rep, err := r.Run(ctx)
	if err != nil {
		code := reason.CodeOf(err)
		if *asJSON {
			writeJSON(c.Env.Stdout, map[string]any{"published": false, "reason": code, "error": err.Error(), "audit_entry_id": rep.AuditID})
		}
		fmt.Fprintf(c.Env.Stderr, "quantum policy refresh: refused: %v\n", err)
		return exitRefreshFailed
	}
	sp := rep.Policy
	if *asJSON {
		writeJSON(c.Env.Stdout, map[string]any{
			"published": true, "policy_version": sp.Version, "policy_seq": sp.Seq, "policy_hash": sp.Hash,
			"key_id": sp.KeyID, "valid_until_epoch": sp.ValidUntil, "audit_entry_id": rep.AuditID,
		})
		return cli.ExitOK
	}
	fmt.Fprintf(c.Env.Stdout, "published policy_version=%s policy_seq=%d policy_hash=%s valid_until=%s key_id=%s\n",
		sp.Version, sp.Seq, sp.Hash, time.Unix(sp.ValidUntil, 0).UTC().Format(time.RFC3339), sp.KeyID)
	return cli.ExitOK
}

// refreshSource picks the template or the generator. A flag given on the
// command line wins over both variables; two sources (or none) is a usage
// error, never a guess.
func refreshSource(c *cli.Invocation, template, generator string, timeout time.Duration, log *slog.Logger) (refresh.Source, error) {
	switch {
	case c.IsSet("template") && c.IsSet("generator"):
		return nil, fmt.Errorf("--template and --generator exclude each other")
	case c.IsSet("template"):
		generator = ""
	case c.IsSet("generator"):
		template = ""
	}
	switch {
	case template != "" && generator != "":
		return nil, fmt.Errorf("both QUANTUM_POLICY_TEMPLATE and QUANTUM_POLICY_GENERATOR are set: keep one, or pick with --template / --generator")
	case template != "":
		return refresh.Template{Path: template}, nil
	case generator != "":
		return refresh.Generator{Command: generator, Timeout: timeout, Log: log}, nil
	}
	return nil, fmt.Errorf("--template FILE or --generator CMD (or QUANTUM_POLICY_TEMPLATE / QUANTUM_POLICY_GENERATOR) is required")
}
