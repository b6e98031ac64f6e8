package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
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
		fmt.Fprintf(c.Env.Stderr, "quantum status: could not check: %v\n", err)
		return exitStatusUnknown
	}
	if !ef.Check(c.Env.Stderr) {
		return exitStatusUnknown
	}
	var ring *policy.TrustedKeys
	if paths := secretfile.SplitList(*pubkeys); len(paths) > 0 {
		if ring, err = policy.LoadTrustedKeys(paths...); err == nil {
			ring, err = withPolicyEncodings(c, ring)
		}
		if err != nil {
			fmt.Fprintf(c.Env.Stderr, "quantum status: could not check: %v\n", err)
			return exitStatusUnknown
		}
	}
	rdb, err := c.Redis()
	if err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum status: could not check: %v\n", err)
		return exitStatusUnknown
	}
	defer rdb.Close()
	rep, err := status.Collect(ctx, rdb, status.Options{
		Keys: c.Keys(), Keyring: ring, Now: c.Env.Clock(), Window: *window, AlertLookback: *lookback, MinRemaining: *minLeft,
		ResultKey: resultKey, AllowUnsafeRedis: *allowUnsafe, MinReplicas: *minReplicas,
	})
	if err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum status: could not check: %v\n", err)
		return exitStatusUnknown
	}
	if *asJSON {
		enc := json.NewEncoder(c.Env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return c.Errorf("%v", err)
		}
	} else {
		printStatus(c.Env.Stdout, rep)
	}
	if len(rep.Attention) > 0 {
		return exitStatusAttention
	}
	return exitStatusOK
}

// printStatus writes the report as aligned text.
func printStatus(w io.Writer, r *status.Report) {
	tw := cli.Table(w)
	p := r.Policy
	if p.Present {
		fmt.Fprintf(tw, "policy\tversion %s  seq %d  state %s\n", p.Version, p.Seq, p.TradingState)
		fmt.Fprintf(tw, "\tage %s  remaining %s  signature %s\n", secs(p.AgeSec), secs(p.RemainingSec), p.Signature)
	} else {
		fmt.Fprintf(tw, "policy\tnone (%s)\n", p.Signature)
	}
	g := r.Group
	if g.Exists {
		fmt.Fprintf(tw, "apply layer\tgroup %s: pending %d  lag %s  plans in stream %d\n", status.DefaultGroup, g.Pending, lag(g.Lag), g.PlanLen)
		for _, cs := range g.Consumers {
			fmt.Fprintf(tw, "\tconsumer %s: pending %d  idle %s\n", cs.Name, cs.Pending, (time.Duration(cs.IdleMs) * time.Millisecond).Truncate(time.Millisecond))
		}
		if len(g.Consumers) == 0 {
			fmt.Fprintf(tw, "\tno consumers\n")
		}
	} else {
		fmt.Fprintf(tw, "apply layer\tno group %s\n", status.DefaultGroup)
	}
	for _, fg := range r.ForeignGroups {
		live := "no live consumer"
		if fg.Live() {
			live = "LIVE: " + strings.Join(fg.LiveConsumers(), ", ")
		}
		fmt.Fprintf(tw, "foreign group	%s: %d consumer(s), pending %d, %s\n", fg.Name, len(fg.Consumers), fg.Pending, live)
	}
	res := r.Results
	fmt.Fprintf(tw, "results (%s)\t%d%s\n", secs(res.WindowSec), res.Total, counts(res.ByDecision))
	fmt.Fprintf(tw, "denials\t%s\n", cmpOr(strings.TrimPrefix(counts(res.Denials), ": "), "none"))
	if len(r.Alerts) == 0 {
		fmt.Fprintf(tw, "open alerts\tnone\n")
	}
	for i, a := range r.Alerts {
		label := ""
		if i == 0 {
			label = "open alerts"
		}
		fmt.Fprintf(tw, "%s\t%s %s %s %s since %s\n", label, a.Type, a.Status, a.Severity, a.AlertID, time.Unix(a.Timestamp, 0).UTC().Format(time.RFC3339))
	}
	wt := r.Watch
	switch {
	case !wt.Present:
		fmt.Fprintf(tw, "watch\tno heartbeat\n")
	default:
		fmt.Fprintf(tw, "watch\t%s: last ok %s ago, outcome %s%s\n", wt.Job, secs(wt.AgeSec), wt.Outcome, map[bool]string{true: " (STALE)"}[wt.Stale])
	}
	if r.LastProof == nil {
		fmt.Fprintf(tw, "last proof\tnone recorded\n")
	} else {
		fmt.Fprintf(tw, "last proof\t%s\n", proofVerdict(r.LastProof.ID, r.LastProof.Fields))
	}
	printExposure(tw, r.Exposure)
	for i, l := range r.Redis.Lines() {
		fmt.Fprintf(tw, "%s\t%s\n", map[bool]string{true: "redis"}[i == 0], l)
	}
	if len(r.Attention) == 0 {
		fmt.Fprintf(tw, "attention\tnone: healthy\n")
	}
	for i, a := range r.Attention {
		label := ""
		if i == 0 {
			label = "ATTENTION"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	tw.Flush()
}

// proofVerdict is the last proof run in one line: its verdict and counts,
// the failed tests, when it ran; the whole entry (tests and evidence) is in
// --json and `quantum proof ledger`.
func proofVerdict(id string, f map[string]string) string {
	s := fmt.Sprintf("%s %s", cmpOr(f["proof"], "(unnamed)"), cmpOr(f["result"], "(no result)"))
	for _, k := range []string{"passed", "failed", "skipped"} {
		if v := f[k]; v != "" {
			s += " " + k + "=" + v
		}
	}
	if ft := f["failed_tests"]; ft != "" {
		if len(ft) > 80 {
			ft = ft[:77] + "..."
		}
		s += " failed_tests=" + ft
	}
	if ts, err := strconv.ParseInt(f["timestamp"], 10, 64); err == nil {
		s += " at " + time.Unix(ts, 0).UTC().Format(time.RFC3339)
	}
	return s + " (entry " + id + ")"
}

func secs(s int64) string { return (time.Duration(s) * time.Second).String() }

func lag(l int64) string {
	if l < 0 {
		return "unknown"
	}
	return fmt.Sprint(l)
}

// counts renders ": a 1, b 2" in name order, or "" for none.
func counts(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return ": " + strings.Join(parts, ", ")
}
