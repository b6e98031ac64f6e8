package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy publish",
		Args:    "FILE",
		Summary: "sign a policy and make it live, atomically, with its audit entry",
		Help: `FILE (or - for stdin) is a JSON object with the policy's content: universe_symbols,
leverage_by_symbol, harvest_params, kill_params, policy_version, trading_state,
and optionally generator, valid_until_epoch, max_notional_usdt_by_symbol,
max_orders_per_minute. The seq, issue time, hash and signature are stamped here;
valid_until_epoch defaults to now + --validity.

The policy is checked exactly as readers will check it before anything is
written; then one Lua script replaces quantum:policy:current as a whole and
appends to quantum:stream:policy.update and quantum:stream:policy.audit. The
publish is refused, changing nothing, when the new policy_seq is not above
the highest verified one (POLICY_ROLLBACK), or when the policy is invalid.
The highest verified seq is the live policy's when its signature verifies
(a tampered live policy_seq such as 1e30 counts for nothing), the newest
published in policy.update / policy.audit (so after a DEL of the policy key
the sequence continues), and the apply layer's high-water mark.

--replace-legacy takes over from the Python writers once (docs/migration.md,
policy takeover): a policy key that is not a hash (a JSON string SET by
backend/core/policy_store.py) or a hash that does not verify (save()'s
unsigned fields and hash) is renamed to quantum:policy:legacy:<time>, the move
is audited (result=legacy_replaced), and the policy is published with a seq
above every seq the legacy key, policy.audit and policy.update hold. A
valid policy of ours, or no key, is refused: nothing legacy to replace.

Exit status: 0 published, 1 refused or failed (the reason code is printed).`,
		Run: runPolicyPublish,
	})
}

func runPolicyPublish(ctx context.Context, c *cli.Invocation) int {
	keyPath := c.FS.String("key", c.Env.Getenv("QUANTUM_POLICY_KEY"), "signing key `FILE`, mode 0600 (env QUANTUM_POLICY_KEY)")
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated: when set, the signing key must be one of them (env QUANTUM_POLICY_PUBKEY)")
	validity := c.FS.Duration("validity", 2*time.Hour, "how long the policy stays valid, when FILE has no valid_until_epoch")
	seq := c.FS.Uint64("seq", 0, "policy_seq to publish (default: the highest verified seq + 1)")
	actor := c.FS.String("actor", cli.DefaultActor(c.Env), "who publishes, for the audit trail")
	asJSON := c.FS.Bool("json", false, "print the result as JSON")
	legacy := c.FS.Bool("replace-legacy", false, "replace a legacy policy key (not a hash, or a hash that does not verify: save(), a SET of JSON) once: moved aside to policy:legacy:<time>, audited, and published over with a seq above every one seen")
	if code, ok := c.Parse(1); !ok {
		return code
	}
	if *keyPath == "" {
		return configErr(c, errors.New("--key FILE (or QUANTUM_POLICY_KEY) is required"))
	}
	sp, pub, legacyDetail, err := policystore.PublishFile(ctx, policystore.FileRelease{
		KeyPath: *keyPath, Pubkeys: *pubkeys, Name: c.Args[0], Open: func() (io.ReadCloser, error) { return c.Env.Open(c.Args[0]) },
		ReplaceLegacy: *legacy, Redis: c.Redis, Keys: c.Keys(), Now: c.Env.Clock(),
		Release: policystore.Release{Seq: *seq, Validity: *validity, Generator: "quantum policy publish", Actor: *actor},
	})
	if legacyDetail != "" {
		fmt.Fprintf(c.Env.Stderr, "quantum policy publish: %s\n", legacyDetail)
	}
	if err != nil {
		return c.Errorf("%v", err)
	}
	c.Logger().Debug("policy published", "policy_version", sp.Version, "policy_seq", sp.Seq,
		"policy_hash", sp.Hash, "key_id", sp.KeyID, "actor", *actor, "prefix", c.G.Prefix)
	return printPublished(c, sp, pub.AuditEntryID, *asJSON)
}

// printPublished prints a published policy, as publish and refresh do.
func printPublished(c *cli.Invocation, sp *policy.Signed, auditID string, asJSON bool) int {
	if asJSON {
		return cli.WriteJSON(c.Env.Stdout, policystore.PublishedJSON(sp, auditID))
	}
	policystore.WritePublished(c.Env.Stdout, sp)
	return cli.ExitOK
}
