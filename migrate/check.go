package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redischeck"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// Steps of docs/migration.md, the fix each finding points to.
const (
	StepPreflight    = "docs/migration.md#1-preflight"
	StepRedisUsers   = "docs/migration.md#2-redis-users"
	StepPolicy       = "docs/migration.md#3-policy-takeover"
	StepShadow       = "docs/migration.md#4-shadow"
	StepSign         = "docs/migration.md#5-sign-producers"
	StepExitPath     = "docs/migration.md#6-the-exit-path"
	StepCutOver      = "docs/migration.md#7-cut-over"
	StepPersistence  = "docs/deploy.md (Redis configuration)"
	DefaultPlanCount = 1000
)

// Severities of a Finding: a blocker makes the deployment not ready.
const (
	Blocker = "blocker"
	Warning = "warning"
)

// Finding is one hazard found, with the step that fixes it.
type Finding struct {
	Check    string `json:"check"` // groups, producers, exits, policy, redis-users, redis-config
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Step     string `json:"step"`
}

// Producer is what the last plans say of one source.
type Producer struct {
	Source      string `json:"source"`
	Plans       int    `json:"plans"`
	Signed      int    `json:"signed"`
	Unsigned    int    `json:"unsigned"`
	Closes      int    `json:"closes"`       // reduceOnly plans
	InvalidSide int    `json:"invalid_side"` // side not BUY/SELL (the old apply layer's side=CLOSE)
}

// CheckOptions configures Check. Keys is required.
type CheckOptions struct {
	Keys       keys.Space
	ExitOwner  string   // the one source that may close
	BreakGlass []string // other sources that may close
	PlanCount  int64    // the last plans read (DefaultPlanCount)
	LiveWithin time.Duration
	Trusted    *policy.TrustedKeys // nil: the signature is not checked, the hash is
	ACLFile    string              // deploy/redis/users.acl as installed; "" skips the comparison
	Now        func() time.Time
}

// CheckReport is the preflight's answer.
type CheckReport struct {
	Ready         bool               `json:"ready"`
	Findings      []Finding          `json:"findings"`
	ForeignGroups []Group            `json:"foreign_groups"`
	Producers     []Producer         `json:"producers"`
	PlansRead     int                `json:"plans_read"`
	PolicyType    string             `json:"policy_key_type"`
	RedisUser     string             `json:"redis_user,omitempty"`
	UsersInUse    []string           `json:"redis_users_in_use,omitempty"`
	Redis         *redischeck.Report `json:"redis_config,omitempty"`
	bySource      map[string]*Producer
}

func (r *CheckReport) add(check, severity, step, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Severity: severity, Message: fmt.Sprintf(format, args...), Step: step})
}

// Check runs the read-only preflight. An error means it could not check
// (Redis unreachable): never read as ready.
func Check(ctx context.Context, rdb redis.UniversalClient, opt CheckOptions) (*CheckReport, error) {
	if opt.Keys.Prefix() == "" {
		return nil, errors.New("migrate: no key prefix")
	}
	if opt.PlanCount <= 0 {
		opt.PlanCount = DefaultPlanCount
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &CheckReport{Findings: []Finding{}, ForeignGroups: []Group{}, Producers: []Producer{}, bySource: map[string]*Producer{}}
	for _, step := range []func(context.Context, redis.UniversalClient, CheckOptions, *CheckReport) error{
		checkGroups, checkPlans, checkPolicy, checkUsers, checkRedisConfig,
	} {
		if err := step(ctx, rdb, opt, r); err != nil {
			return nil, err
		}
	}
	r.Ready = !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity == Blocker })
	return r, nil
}

func checkGroups(ctx context.Context, rdb redis.UniversalClient, opt CheckOptions, r *CheckReport) error {
	groups, err := ForeignGroups(ctx, rdb, opt.Keys.ApplyPlan(), OwnGroups, opt.LiveWithin)
	if err != nil {
		return err
	}
	r.ForeignGroups = append(r.ForeignGroups, groups...)
	for _, g := range groups {
		if g.Live() {
			r.add("groups", Blocker, StepCutOver, "consumer group %s on %s has live consumers (%s): it is delivered every plan; an executor there places each again (stop it, then XGROUP DESTROY %s %s)",
				g.Name, opt.Keys.ApplyPlan(), strings.Join(g.LiveConsumers(), ", "), opt.Keys.ApplyPlan(), g.Name)
		} else {
			r.add("groups", Warning, StepCutOver, "consumer group %s on %s has no live consumer (%d consumer(s), pending %d): a consumer starting there would receive every plan (XGROUP DESTROY %s %s)",
				g.Name, opt.Keys.ApplyPlan(), len(g.Consumers), g.Pending, opt.Keys.ApplyPlan(), g.Name)
		}
	}
	return nil
}

// checkPlans reads the last plans: who produces, signed or not, and who
// closes.
func checkPlans(ctx context.Context, rdb redis.UniversalClient, opt CheckOptions, r *CheckReport) error {
	msgs, err := rdb.XRevRangeN(ctx, opt.Keys.ApplyPlan(), "+", "-", opt.PlanCount).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.ApplyPlan(), err)
	}
	r.PlansRead = len(msgs)
	closers := map[string]bool{opt.ExitOwner: true}
	for _, s := range opt.BreakGlass {
		closers[s] = true
	}
	nonOwner := map[string]int{}
	ownerCloses := 0
	for _, m := range msgs {
		f := map[string]string{}
		for k, v := range m.Values {
			f[k] = fmt.Sprint(v)
		}
		src := f[plan.FieldSource]
		if src == "" {
			src = "(none)"
		}
		p := r.bySource[src]
		if p == nil {
			p = &Producer{Source: src}
			r.bySource[src] = p
		}
		p.Plans++
		if f[plan.FieldSig] != "" {
			p.Signed++
		} else {
			p.Unsigned++
		}
		if side := strings.ToUpper(f[plan.FieldSide]); side != "" && side != string(market.Buy) && side != string(market.Sell) {
			p.InvalidSide++
		}
		switch strings.ToLower(f[plan.FieldReduceOnly]) {
		case "true", "1":
			p.Closes++
			if closers[src] {
				ownerCloses++
			} else {
				nonOwner[src]++
			}
		}
	}
	for _, src := range slices.Sorted(maps.Keys(r.bySource)) {
		p := r.bySource[src]
		r.Producers = append(r.Producers, *p)
		if p.Unsigned > 0 {
			r.add("producers", Blocker, StepSign, "source %s sent %d unsigned plan(s) of the last %d: each would be denied %s (sign with its own key)", src, p.Unsigned, len(msgs), reason.AuthMissing)
		}
		if p.InvalidSide > 0 {
			r.add("producers", Blocker, StepExitPath, "source %s sent %d plan(s) with a side other than BUY/SELL (the old apply layer's side=CLOSE): each would be %s", src, p.InvalidSide, reason.PlanInvalid)
		}
	}
	for _, src := range slices.Sorted(maps.Keys(nonOwner)) {
		r.add("exits", Blocker, StepExitPath, "source %s sent %d close(s) (reduceOnly) but is not the exit owner %s: each would be %s; route its closes to the exit owner", src, nonOwner[src], opt.ExitOwner, reason.DenyNotExitOwner)
	}
	if len(msgs) > 0 && ownerCloses == 0 {
		r.add("exits", Warning, StepExitPath, "no close from the exit owner %s in the last %d plans: after the cut-over only it (and break-glass sources) can close positions", opt.ExitOwner, len(msgs))
	}
	return nil
}

// checkPolicy reads the policy key's type and whether a writer bypassed
// the publish.
func checkPolicy(ctx context.Context, rdb redis.UniversalClient, opt CheckOptions, r *CheckReport) error {
	key := opt.Keys.PolicyCurrent()
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("TYPE %s: %w", key, err)
	}
	r.PolicyType = typ
	switch typ {
	case "none":
		r.add("policy", Blocker, StepPolicy, "no policy at %s: every plan would be denied %s (quantum policy publish)", key, reason.PolicyMissing)
		return nil
	case "hash":
	default:
		r.add("policy", Blocker, StepPolicy, "%s is a %s, not a hash (backend/core/policy_store.py SETs a JSON string): readers get WRONGTYPE and refresh cannot publish over it (quantum policy publish --replace-legacy)", key, typ)
		return nil
	}
	f, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("HGETALL %s: %w", key, err)
	}
	if f[policy.FieldSignature] == "" {
		r.add("policy", Blocker, StepPolicy, "%s is unsigned (lib/policy_store.py save() or another legacy writer): %s (quantum policy publish --replace-legacy)", key, reason.PolicyUnsigned)
	} else if h := policy.Hash(f); h != f[policy.FieldHash] {
		which := ""
		if d, err := legacyFields(ctx, rdb, opt, f); err != nil {
			which = fmt.Sprintf("; the fields changed cannot be named (%v)", err)
		} else if !d.Empty() {
			which = "; " + d.String()
		}
		r.add("policy", Blocker, StepPolicy, "%s: policy_hash does not match its fields (%s): a writer changed fields without publishing (an HSET of valid_until_epoch by scripts/policy_refresh_direct.py, of universe_symbols by intent_bridge, lib/policy_store.py save()): stop it, then publish%s", key, reason.PolicyHashMismatch, which)
	} else if opt.Trusted != nil {
		if _, err := policy.Verify(f, opt.Trusted, opt.Now(), time.Minute); err != nil {
			r.add("policy", Blocker, StepPolicy, "%s does not verify: %v", key, err)
		}
	}
	audit, err := rdb.XRevRangeN(ctx, opt.Keys.PolicyAudit(), "+", "-", 200).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.PolicyAudit(), err)
	}
	inTrail := false
	for _, m := range audit {
		if fmt.Sprint(m.Values["policy_hash"]) == f[policy.FieldHash] && f[policy.FieldHash] != "" {
			inTrail = true
		}
	}
	if !inTrail {
		r.add("policy", Blocker, StepPolicy, "the live policy (hash %q) is not in %s: it was written outside the audited publish", clip(f[policy.FieldHash]), opt.Keys.PolicyAudit())
	}
	return nil
}

// legacyFields names the fields of the live policy f that differ from the
// last publish (policystore.Divergence).
func legacyFields(ctx context.Context, rdb redis.UniversalClient, opt CheckOptions, f map[string]string) (*policystore.Divergence, error) {
	store, err := policystore.New(rdb, policystore.Options{Keys: opt.Keys, Keyring: opt.Trusted, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	return store.Divergence(ctx, f)
}

// checkUsers compares the Redis users in use with the ACL file.
func checkUsers(ctx context.Context, rdb redis.UniversalClient, opt CheckOptions, r *CheckReport) error {
	if who, err := rdb.Do(ctx, "ACL", "WHOAMI").Text(); err == nil {
		r.RedisUser = who
	}
	inUse := map[string]int{}
	if list, err := rdb.ClientList(ctx).Result(); err == nil {
		for _, line := range strings.Split(list, "\n") {
			for _, kv := range strings.Fields(line) {
				if u, ok := strings.CutPrefix(kv, "user="); ok {
					inUse[u]++
				}
			}
		}
		r.UsersInUse = slices.Sorted(maps.Keys(inUse))
	} else {
		r.add("redis-users", Warning, StepRedisUsers, "CLIENT LIST refused (%v): the users in use are unknown; run the check as an admin once", err)
	}
	if inUse["default"] > 0 {
		r.add("redis-users", Blocker, StepRedisUsers, "%d connection(s) use the default user (the Python services): loading users.acl as it stands (user default off) locks them out; give each service its user first and restrict default last", inUse["default"])
	}
	if opt.ACLFile == "" {
		return nil
	}
	want, err := aclUsers(opt.ACLFile)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	if names, err := rdb.Do(ctx, "ACL", "USERS").StringSlice(); err == nil {
		for _, n := range names {
			have[n] = true
		}
	} else {
		r.add("redis-users", Warning, StepRedisUsers, "ACL USERS refused (%v): cannot compare with %s", err, opt.ACLFile)
		return nil
	}
	var missing []string
	for _, u := range want {
		if !have[u] {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		r.add("redis-users", Blocker, StepRedisUsers, "users of %s not loaded in Redis: %s (ACL LOAD, or aclfile in redis.conf)", opt.ACLFile, strings.Join(missing, ", "))
	}
	return nil
}

// aclUsers returns the user names of an ACL file (lines "user NAME ...").
func aclUsers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ACL file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) >= 2 && w[0] == "user" {
			out = append(out, w[1])
		}
	}
	return out, sc.Err()
}

func checkRedisConfig(ctx context.Context, rdb redis.UniversalClient, _ CheckOptions, r *CheckReport) error {
	rep, err := redischeck.Check(ctx, rdb)
	if err != nil {
		return err
	}
	r.Redis = rep
	for _, f := range rep.Findings {
		sev := Warning
		if f.Refuse {
			sev = Blocker
		}
		r.add("redis-config", sev, StepPersistence, "%s", f.String())
	}
	return nil
}

func clip(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}
