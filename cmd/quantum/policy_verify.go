package main

import (
	"context"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/refresh"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy verify",
		Summary: "check that a valid, fresh, correctly signed policy is live",
		Help: `Reads quantum:policy:current exactly as the apply layer does and prints one line.

When the policy verifies but has less than --expiry-alarm of validity left,
it raises POLICY_EXPIRING on quantum:stream:alerts, deduplicated with the
refresh's own expiry alarm (one alert per incident, re-notified every
--repeat-interval); with more left, it resolves a firing one. --expiry-alarm 0
turns this off (a reader with a read-only Redis user). The alarm is logged on
stderr and does not change the exit status; a failure to raise it is logged
as an error.

Exit status: 0 when a valid, fresh policy signed by a trusted key is live;
1 otherwise, printing the reason code (POLICY_MISSING, POLICY_MISSING_FIELD,
POLICY_HASH_MISMATCH, POLICY_SIGNATURE_INVALID, POLICY_STALE, ...) and why;
POLICY_KEY_UNAVAILABLE when a --pubkey file is missing, unreadable, writable
by others or holds no key (the reader's setup, not the policy).
Policies signed over quantum-policy/v1 are refused unless the environment
sets QUANTUM_POLICY_ENCODINGS=v1,v2 (docs/policy.md: moving from v1 to v2).
POLICY_ROLLBACK: the live policy is older than the newest published one
(policy.update / policy.audit) or than the apply layer's high-water mark
(quantum:apply:policy:highwater): an older, still validly signed policy has
been restored over a newer one.
POLICY_HASH_MISMATCH / POLICY_SIGNATURE_INVALID also name the fields a
writer changed outside the publish (the old generator's save(), an HSET
of valid_until_epoch): compared with the copy every publish keeps at
quantum:policy:published, fields outside the signed set, signed fields
changed or missing, and policy_hash or signature rewritten. Only names are
printed, never values.`,
		Run: runPolicyVerify,
	})
}

func runPolicyVerify(ctx context.Context, c *cli.Invocation) int {
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	skew := c.FS.Duration("clock-skew", policystore.DefaultClockSkew, "how far issued_at_epoch may lie ahead of this clock")
	asJSON := c.FS.Bool("json", false, "print the result as JSON")
	ef := cli.NewEnvFlags(c)
	alarm, repeat := alarmFlags(ef)
	if code, ok := c.Parse(0); !ok {
		// Anything but a verified policy is exit 1 for verify (SPEC.md).
		if code == cli.ExitUsage {
			return cli.ExitFail
		}
		return code
	}
	if !ef.Check(c.Env.Stderr) {
		return cli.ExitFail
	}
	sp, err := loadVerified(ctx, c, *pubkeys, *skew)
	v := policystore.Verification{Policy: sp, Err: err, Now: c.Env.Clock()(), Alarm: *alarm}
	if err == nil {
		v.ExpiryAlert = string(refresh.ReaderAlarm{Redis: c.Redis, Keys: c.Keys(), Now: c.Env.Clock(), Log: c.Logger(), Threshold: *alarm, Repeat: *repeat}.Check(ctx, sp, v.Now).Outcome)
	}
	if *asJSON {
		cli.WriteJSON(c.Env.Stdout, v.JSON())
	} else {
		v.WriteText(c.Env.Stdout)
	}
	if err != nil {
		return cli.ExitFail
	}
	return cli.ExitOK
}
