package main

import (
	"context"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/status"
)

// Exit codes of quantum status.
const (
	exitStatusOK        = 0
	exitStatusAttention = 1
	exitStatusUnknown   = 2
)

func init() {
	cli.Register(&cli.Command{
		Name:    "status",
		Summary: "the deployment's health at a glance: policy, apply layer, results, alerts, watch, last proof",
		Help: `Reads, never writes:

  policy       version, seq, age, remaining validity, signature (verified with
               --pubkey or QUANTUM_POLICY_PUBKEY; "not checked" without one);
               on POLICY_HASH_MISMATCH the fields a legacy writer changed
               outside the publish (names only; JSON: policy.legacy_writer)
  apply layer  the consumers of group apply_layer on quantum:stream:apply.plan
               (name, pending, idle), the group's pending and lag
  foreign      other consumer groups on the plan stream (intent_executor,
               governor, p33, ...): a live one needs attention, since an
               executor there places every plan again
  results      results of the last --window by decision, denials by reason
               (a range of stream ids on quantum:stream:apply.result)
  alerts       alerts whose latest status on quantum:stream:alerts in the last
               --alert-lookback is not resolved
  watch        age of the exit-owner watch's heartbeat (the timer's or
               --follow's, whichever is fresher)
  last proof   the newest entry of quantum:stream:proof.runs, fields as written
  redis        persistence (appendonly, save), maxmemory-policy, used_memory
               against maxmemory, connected replicas against --min-replicas,
               and the findings of the apply layer's start check
  exposure     when the policy sets exposure limits: exposure per symbol,
               gross, open positions and the day's PnL as the newest entry
               decided under them saw it (and how long ago), against each
               limit; the entries reserved and not yet filled

Needs attention (exit 1): no valid policy, a signature not checked, under
--min-remaining of validity left; no apply-layer group, plans waiting
(pending or lag) with no consumer served in the last 30s, or a backlog over
1000; an open alert; a watch
heartbeat missing or older than 3 of its intervals (+30s); a last proof run
whose result is not PASS; the day's loss at max_daily_loss_usdt or gross
exposure above max_gross_exposure_usdt; a Redis without persistence
(appendonly no and no save) or with a maxmemory-policy that can evict keys
(unless --allow-unsafe-redis), at or over 90% of its maxmemory, or with fewer
connected replicas than --min-replicas. The output lists each item.

--json prints the same report as one JSON object (the "attention" array is
empty when healthy).

Exit status: 0 healthy; 1 something needs attention; 2 could not check
(Redis unreachable, a permission missing, an unreadable public key) and for
usage errors.`,
		Run: runStatus,
	})
}

func runStatus(ctx context.Context, c *cli.Invocation) int {
	ef := cli.NewEnvFlags(c)
	asJSON := c.FS.Bool("json", false, "print the report as JSON")
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	window := ef.Duration("window", "QUANTUM_STATUS_WINDOW", status.DefaultWindow, "count the results of this last `DURATION`")
	lookback := c.FS.Duration("alert-lookback", status.DefaultAlertLookback, "read alerts back this far")
	minLeft := c.FS.Duration("min-remaining", status.DefaultMinRemaining, "less policy validity left than this needs attention")
	allowUnsafe := c.FS.Bool(redischeck.AllowFlag, redischeck.Allowed(c.Env.Getenv(redischeck.AllowEnv)), "report a Redis without persistence or with key eviction without counting it as needing attention: for quantum dev and tests only (env "+redischeck.AllowEnv+"=1)")
	minReplicas := c.FS.Int("min-replicas", cli.EnvInt(c.Env.Getenv, "QUANTUM_MIN_REPLICAS", 0), "the apply layer's --min-replicas: fewer connected Redis replicas need attention (env QUANTUM_MIN_REPLICAS)")
	loadResultKey := resultKeyFlag(c)
	if code, ok := c.Parse(0); !ok {
		return code
	}
	resultKey, err := loadResultKey()
	if err != nil {
		return couldNotCheck(c, err)
	}
	if !ef.Check(c.Env.Stderr) {
		return exitStatusUnknown
	}
	rep, err := policystore.WithTrusted(c.Redis, *pubkeys, c.Env.Getenv(policy.EncodingsEnv), func(ring *policy.TrustedKeys, rdb cli.RedisClient) (*status.Report, error) {
		return status.Collect(ctx, rdb, status.Options{
			Keys: c.Keys(), Keyring: ring, Now: c.Env.Clock(), Window: *window, AlertLookback: *lookback, MinRemaining: *minLeft,
			ResultKey: resultKey, AllowUnsafeRedis: *allowUnsafe, MinReplicas: *minReplicas,
		})
	})
	if err != nil {
		return couldNotCheck(c, err)
	}
	if *asJSON {
		if err := cli.EncodeJSON(c.Env.Stdout, rep); err != nil {
			return c.Errorf("%v", err)
		}
	} else {
		status.WriteText(c.Env.Stdout, rep)
	}
	if len(rep.Attention) > 0 {
		return exitStatusAttention
	}
	return exitStatusOK
}
