package proof

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/refresh"
)

// refreshState is what policy-refresh's setup did in its scratch namespace.
type refreshState struct {
	sp       *scratchPolicy
	first    *refresh.Report
	firstErr error
	// the refused refresh: the hash before and after, its report
	dumpBefore, dumpAfter string
	refused               *refresh.Report
	refusedErr            error
	// the refresh signed with an untrusted key
	untrusted    *refresh.Report
	untrustedErr error
	dumpUntrust  string
}

// scratchRefresher is the real refresh over the scratch namespace, signing
// with key and trusting only the scratch key.
func scratchRefresher(r *run, sp *scratchPolicy, key *policy.PrivateKey, src refresh.Source) (*refresh.Refresher, error) {
	st, err := sp.store(r)
	if err != nil {
		return nil, err
	}
	al, err := alert.New(r.Redis, alert.Options{Keys: sp.ks, Now: r.Now})
	if err != nil {
		return nil, err
	}
	return refresh.New(refresh.Config{
		Store: st, Alerts: al, Source: src, Log: scratchLog, Now: r.Now,
		Key:      func() (*policy.PrivateKey, error) { return key, nil },
		Validity: refresh.DefaultValidity, Interval: refresh.DefaultInterval,
		ExpiryAlarm: refresh.DefaultExpiryAlarm, RepeatInterval: refresh.DefaultRepeatInterval, Actor: "quantum-proof",
	})
}

func refreshSetup(ctx context.Context, r *run) error {
	key, err := policy.GenerateKey()
	if err != nil {
		return err
	}
	s := &refreshState{sp: &scratchPolicy{ks: r.newScratch(), key: key, ring: policy.NewTrustedKeys(key.Public())}}
	r.state = s
	good := refresh.SourceFunc(func(context.Context) (*policy.Content, error) { return scratchContent(), nil })
	rf, err := scratchRefresher(r, s.sp, key, good)
	if err != nil {
		return err
	}
	s.first, s.firstErr = rf.Run(ctx)
	if s.dumpBefore, err = r.Redis.Dump(ctx, s.sp.ks.PolicyCurrent()).Result(); err != nil && s.firstErr == nil {
		return fmt.Errorf("dump the scratch policy: %w", err)
	}
	bad := refresh.SourceFunc(func(context.Context) (*policy.Content, error) {
		c := scratchContent()
		c.UniverseSymbols = nil // an empty universe: POLICY_INVALID
		return c, nil
	})
	if rf, err = scratchRefresher(r, s.sp, key, bad); err != nil {
		return err
	}
	s.refused, s.refusedErr = rf.Run(ctx)
	s.dumpAfter, _ = r.Redis.Dump(ctx, s.sp.ks.PolicyCurrent()).Result()
	other, err := policy.GenerateKey()
	if err != nil {
		return err
	}
	if rf, err = scratchRefresher(r, s.sp, other, good); err != nil {
		return err
	}
	s.untrusted, s.untrustedErr = rf.Run(ctx)
	s.dumpUntrust, _ = r.Redis.Dump(ctx, s.sp.ks.PolicyCurrent()).Result()
	return nil
}

func policyRefresh() *Proof {
	st := func(r *run) *refreshState { return stateOf[refreshState](r) }
	p := &Proof{
		Name:    "policy-refresh",
		Script:  "scripts/proof_policy_refresh.sh",
		Purpose: "the refresh publishes verified policies atomically with an audit trail, a refusal changes nothing, and the live policy is kept fresh by an active timer",
		setup:   refreshSetup,
	}
	p.Tests = []Test{
		{Name: "scratch-refresh-publishes", Doc: "a refresh into a scratch namespace publishes a policy that the real store verifies",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.firstErr != nil {
					return Fail, fmt.Sprintf("scratch refresh refused: %s: %v", reason.CodeOf(s.firstErr), s.firstErr)
				}
				store, err := s.sp.store(r)
				if err != nil {
					return Fail, err.Error()
				}
				got, err := store.Load(ctx)
				if err != nil {
					return Fail, fmt.Sprintf("the refreshed scratch policy does not verify: %v", err)
				}
				if got.Hash != s.first.Policy.Hash {
					return Fail, fmt.Sprintf("stored policy_hash %s, the refresh reported %s", got.Hash, s.first.Policy.Hash)
				}
				return Pass, fmt.Sprintf("scratch policy_seq=%d policy_hash=%.12s verifies with the scratch key", got.Seq, got.Hash)
			}},
		{Name: "scratch-refresh-audited", Doc: "the publish wrote one audit entry result=published with the policy's hash and seq",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.firstErr != nil {
					return Fail, "scratch refresh refused: " + s.firstErr.Error()
				}
				e, err := auditEntry(ctx, r, s, s.first.AuditID)
				if err != nil {
					return Fail, err.Error()
				}
				if e.Result != policystore.ResultPublished || e.Hash != s.first.Policy.Hash || e.Seq != strconv.FormatUint(s.first.Policy.Seq, 10) {
					return Fail, fmt.Sprintf("audit entry %s: result=%s policy_hash=%.12s policy_seq=%s, want published %.12s %d", e.ID, e.Result, e.Hash, e.Seq, s.first.Policy.Hash, s.first.Policy.Seq)
				}
				return Pass, fmt.Sprintf("audit entry %s result=published policy_seq=%s leverage_range=%s actor=%s", e.ID, e.Seq, e.LeverageRange, e.Actor)
			}},
		{Name: "scratch-refresh-validity", Doc: "the published policy is valid for the refresh interval plus at least 35 minutes (never 300 s on a 30-minute timer)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.firstErr != nil {
					return Fail, "scratch refresh refused: " + s.firstErr.Error()
				}
				v := time.Duration(s.first.Policy.ValidUntil-s.first.Policy.IssuedAt) * time.Second
				if v < refresh.DefaultInterval+35*time.Minute {
					return Fail, fmt.Sprintf("validity %s, want at least %s", v, refresh.DefaultInterval+35*time.Minute)
				}
				return Pass, fmt.Sprintf("valid_until - issued_at = %s on a %s interval", v, refresh.DefaultInterval)
			}},
		{Name: "refused-refresh-untouched", Doc: "a refresh of invalid content (empty universe) is refused POLICY_INVALID and the scratch policy hash stays byte-identical (DUMP)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.refusedErr == nil {
					return Fail, "a refresh with an empty universe was published"
				}
				if c := reason.CodeOf(s.refusedErr); c != reason.PolicyInvalid {
					return Fail, fmt.Sprintf("refused with %s, want POLICY_INVALID: %v", c, s.refusedErr)
				}
				if s.dumpBefore == "" || s.dumpBefore != s.dumpAfter {
					return Fail, "the scratch policy hash changed under a refused refresh"
				}
				return Pass, fmt.Sprintf("refused %s, policy hash byte-identical (DUMP %d bytes)", reason.CodeOf(s.refusedErr), len(s.dumpAfter))
			}},
		{Name: "refused-refresh-audited", Doc: "the refusal wrote an audit entry result=rejected with its reason code",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.refused == nil || s.refused.AuditID == "" {
					return Fail, "the refused refresh wrote no audit entry"
				}
				e, err := auditEntry(ctx, r, s, s.refused.AuditID)
				if err != nil {
					return Fail, err.Error()
				}
				if e.Result != policystore.ResultRejected || e.Reason != string(reason.PolicyInvalid) {
					return Fail, fmt.Sprintf("audit entry %s result=%s reason=%s, want rejected POLICY_INVALID", e.ID, e.Result, e.Reason)
				}
				return Pass, fmt.Sprintf("audit entry %s result=rejected reason=%s", e.ID, e.Reason)
			}},
		{Name: "refused-refresh-alerted", Doc: "the refusal raised one POLICY_REFRESH_FAILED alert in the scratch alert stream",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				msgs, err := r.Redis.XRange(ctx, s.sp.ks.Alerts(), "-", "+").Result()
				if err != nil {
					return Fail, err.Error()
				}
				n := 0
				var id string
				for _, m := range msgs {
					if m.Values["alert_type"] == "POLICY_REFRESH_FAILED" && m.Values["status"] == "firing" {
						n++
						id = m.ID
					}
				}
				if n == 0 {
					return Fail, "no POLICY_REFRESH_FAILED alert after a refused refresh"
				}
				return Pass, fmt.Sprintf("POLICY_REFRESH_FAILED firing, entry %s (%d firing entries for two refusals of one incident)", id, n)
			}},
		{Name: "untrusted-key-refused", Doc: "a refresh signed by a key the readers do not trust is refused POLICY_SIGNATURE_INVALID and publishes nothing",
			Run: func(ctx context.Context, r *run) (Status, string) {
				s := st(r)
				if s.untrustedErr == nil {
					return Fail, "a policy signed by an untrusted key was published"
				}
				if c := reason.CodeOf(s.untrustedErr); c != reason.PolicySignatureInvalid {
					return Fail, fmt.Sprintf("refused with %s, want POLICY_SIGNATURE_INVALID: %v", c, s.untrustedErr)
				}
				if s.dumpUntrust != s.dumpBefore {
					return Fail, "the scratch policy changed under a refused refresh"
				}
				return Pass, "refused POLICY_SIGNATURE_INVALID, scratch policy byte-identical"
			}},
		{Name: "live-policy-fresh", Doc: "the live policy's valid_until is more than 30 minutes ahead",
			Run: func(ctx context.Context, r *run) (Status, string) { return liveFresh(ctx, r) }},
		{Name: "live-signer-trusted", Doc: "the live policy is signed by a key of QUANTUM_POLICY_PUBKEY: the refresh signs with a key the readers trust",
			Run: func(ctx context.Context, r *run) (Status, string) {
				kid, _ := r.Redis.HGet(ctx, r.Keys.PolicyCurrent(), "key_id").Result()
				if r.PolicyKeys == nil {
					return Fail, fmt.Sprintf("no trusted keys to check key_id %q against: %v", kid, r.PolicyKeysErr)
				}
				if _, ok := r.PolicyKeys.Lookup(kid); !ok {
					return Fail, fmt.Sprintf("the live policy is signed by key_id %q, not one of QUANTUM_POLICY_PUBKEY's %v: the refresh key is not trusted", kid, r.PolicyKeys.IDs())
				}
				if _, err := loadLive(ctx, r); err != nil {
					return Fail, fmt.Sprintf("key_id %s is trusted but the live policy is refused: %v", kid, err)
				}
				return Pass, fmt.Sprintf("live policy signed by trusted key_id %s and verifies", kid)
			}},
		{Name: "live-audit-trail", Doc: "the live audit trail holds 48+ published entries in the last 24 h, or for a younger deployment one per interval of its age",
			Run: liveAuditTrail},
		{Name: "refresh-timer-active", Doc: "quantum-policy-refresh.timer is installed (enabled) and active (SKIP where systemd is absent)",
			Run: func(ctx context.Context, r *run) (Status, string) {
				return timerActive(ctx, r, "quantum-policy-refresh.timer")
			}},
	}
	return p
}

func auditEntry(ctx context.Context, r *run, s *refreshState, id string) (*policystore.AuditEntry, error) {
	store, err := s.sp.store(r)
	if err != nil {
		return nil, err
	}
	es, err := store.Audit(ctx, 20)
	if err != nil {
		return nil, fmt.Errorf("read the scratch audit trail: %w", err)
	}
	for i := range es {
		if es[i].ID == id {
			return &es[i], nil
		}
	}
	return nil, fmt.Errorf("audit entry %s not found in the scratch audit trail", id)
}

// liveAuditTrail counts published entries of the last 24 h on the live
// audit stream (read-only, by stream id range).
func liveAuditTrail(ctx context.Context, r *run) (Status, string) {
	now := r.Now()
	since := now.Add(-24 * time.Hour)
	first, err := r.Redis.XRangeN(ctx, r.Keys.PolicyAudit(), "-", "+", 1).Result()
	if err != nil {
		return Fail, fmt.Sprintf("read %s: %v", r.Keys.PolicyAudit(), err)
	}
	if len(first) == 0 {
		return Fail, fmt.Sprintf("%s is empty: no refresh or publish ever recorded", r.Keys.PolicyAudit())
	}
	born := idTime(first[0].ID)
	published, total := 0, 0
	cursor := strconv.FormatInt(since.UnixMilli(), 10)
	for {
		msgs, err := r.Redis.XRangeN(ctx, r.Keys.PolicyAudit(), cursor, "+", 1000).Result()
		if err != nil {
			return Fail, err.Error()
		}
		for _, m := range msgs {
			total++
			if m.Values["result"] == policystore.ResultPublished {
				published++
			}
			cursor = "(" + m.ID
		}
		if len(msgs) < 1000 {
			break
		}
	}
	span := now.Sub(born)
	if span > 24*time.Hour {
		span = 24 * time.Hour
	}
	want := max(int(span/r.RefreshInterval), 1)
	want = min(want, int(24*time.Hour/r.RefreshInterval))
	if published < want {
		return Fail, fmt.Sprintf("%d published audit entries in the last %s (of %d), want %d (one per %s): the refresh is not running", published, span.Round(time.Second), total, want, r.RefreshInterval)
	}
	return Pass, fmt.Sprintf("%d published audit entries in the last %s (%d in all), want >= %d for a trail started %s ago", published, span.Round(time.Second), total, want, now.Sub(born).Round(time.Second))
}

func idTime(id string) time.Time {
	ms, _ := strconv.ParseInt(strings.SplitN(id, "-", 2)[0], 10, 64)
	return time.UnixMilli(ms)
}

// timerActive checks that a systemd timer is enabled and active.
func timerActive(ctx context.Context, r *run, unit string) (Status, string) {
	has := r.HasSystemd
	if has == nil {
		has = func() bool {
			if _, err := exec.LookPath("systemctl"); err != nil {
				return false
			}
			_, err := os.Stat("/run/systemd/system")
			return err == nil
		}
	}
	if !has() {
		return Skip, fmt.Sprintf("systemd is not running on this host (no /run/systemd/system or no systemctl): %s cannot be checked", unit)
	}
	sc := r.Systemctl
	if sc == nil {
		sc = func(ctx context.Context, args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "systemctl", args...).Output()
			return strings.TrimSpace(string(out)), err
		}
	}
	enabled, err := sc(ctx, "is-enabled", unit)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Fail, fmt.Sprintf("systemctl is-enabled %s: %v", unit, err)
	}
	if enabled != "enabled" {
		return Fail, fmt.Sprintf("%s is %q, want enabled: install it (docs/deploy.md)", unit, enabled)
	}
	active, _ := sc(ctx, "is-active", unit)
	if active != "active" {
		return Fail, fmt.Sprintf("%s is enabled but %q, want active: systemctl enable --now %s", unit, active, unit)
	}
	return Pass, fmt.Sprintf("%s enabled and active", unit)
}
