package main

import (
	"context"
	"fmt"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policy"
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
	actor := c.FS.String("actor", cli.DefaultActor(c.Env), "who publishes, for the audit trail")
	asJSON := c.FS.Bool("json", false, "print the result as JSON")
	if code, ok := c.Parse(0); !ok {
		return code // 0 for --help; a usage error is cli.ExitUsage, the same 2 as a failed refresh
	}
	if !ef.Check(c.Env.Stderr) {
		return exitRefreshFailed
	}
	// Usage errors: c.UsageErr's status, 2, is exitRefreshFailed.
	setup := refresh.Setup{
		Template: *template, Generator: *generator, TemplateFlag: c.IsSet("template"), GeneratorFlag: c.IsSet("generator"),
		GeneratorTimeout: *genTimeout, KeyPath: *keyPath, Pubkeys: *pubkeys, Validity: *validity, Interval: *interval,
		MaxLeverage: *maxLev, ExpiryAlarm: *alarm, RepeatInterval: *repeat, Actor: *actor,
		Keys: c.Keys(), Now: c.Env.Clock(), Log: c.Logger(),
	}
	if err := setup.Check(); err != nil {
		return c.UsageErr("%v", err)
	}
	r, closeRefresher, err := setup.Dial(c.Redis)
	if err != nil {
		return c.UsageErr("%v", err)
	}
	defer closeRefresher()
	rep, err := r.Run(ctx)
	if err != nil {
		if *asJSON {
			cli.WriteJSON(c.Env.Stdout, refresh.RefusalJSON(err, rep.AuditID))
		}
		fmt.Fprintf(c.Env.Stderr, "quantum policy refresh: refused: %v\n", err)
		return exitRefreshFailed
	}
	return printPublished(c, rep.Policy, rep.AuditID, *asJSON)
}
