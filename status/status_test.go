package status_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
	"github.com/quantumtrader/quantum/status"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// seed is one deployment state written to a real Redis.
type seed struct {
	env *redistest.Env
	key *policy.PrivateKey
	now time.Time
}

func (s *seed) ctx() context.Context { return context.Background() }

func (s *seed) publish(t *testing.T, validity time.Duration) {
	t.Helper()
	store, err := policystore.New(s.env.Client, policystore.Options{Keys: s.env.Keys, Keyring: policy.NewTrustedKeys(s.key.Public()), Now: func() time.Time { return s.now }})
	if err != nil {
		t.Fatal(err)
	}
	p := policytest.Sample(s.now, 1)
	p.ValidUntil = s.now.Add(validity).Unix()
	if _, err := store.Publish(s.ctx(), policytest.Sign(t, p, s.key), "test"); err != nil {
		t.Fatal(err)
	}
}

// consume makes a live consumer of the apply group that read every plan,
// and acknowledges none (pending = plans).
func (s *seed) consume(t *testing.T, plans int) {
	t.Helper()
	ks, c := s.env.Keys, s.env.Client
	for i := range plans {
		c.XAdd(s.ctx(), &redis.XAddArgs{Stream: ks.ApplyPlan(), Values: []any{plan.FieldPlanID, "p" + strconv.Itoa(i)}})
	}
	if err := c.XGroupCreateMkStream(s.ctx(), ks.ApplyPlan(), keys.ApplyGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XReadGroup(s.ctx(), &redis.XReadGroupArgs{Group: keys.ApplyGroup, Consumer: "c1", Streams: []string{ks.ApplyPlan(), ">"}, Count: 1000, Block: -1}).Err(); err != nil && err != redis.Nil {
		t.Fatal(err)
	}
}

func (s *seed) result(t *testing.T, r plan.Result) {
	t.Helper()
	if err := s.env.Client.XAdd(s.ctx(), &redis.XAddArgs{Stream: s.env.Keys.ApplyResult(), Values: r.Fields()}).Err(); err != nil {
		t.Fatal(err)
	}
}

func (s *seed) heartbeat(t *testing.T, okAgo time.Duration) {
	t.Helper()
	at := strconv.FormatInt(s.now.Add(-okAgo).Unix(), 10)
	if err := s.env.Client.HSet(s.ctx(), s.env.Keys.Heartbeat(keys.JobWatchTimer), "last_run_at", at, "last_ok_at", at, "outcome", "clean", "interval_sec", "300").Err(); err != nil {
		t.Fatal(err)
	}
}

// persistent turns AOF on in the test Redis: a healthy verdict needs a
// Redis that keeps what it acknowledged (redistest starts it without).
func (s *seed) persistent(t *testing.T) {
	t.Helper()
	if err := s.env.Client.ConfigSet(s.ctx(), "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
}

func (s *seed) healthy(t *testing.T) {
	s.persistent(t)
	s.publish(t, 2*time.Hour)
	s.consume(t, 1) // a plan in hand: the consumer exists and is at work
	s.heartbeat(t, time.Minute)
}

// TestCollect reads seeded deployments and checks what each says and what
// needs attention. Every case writes a real Redis under its own prefix.
func TestCollect(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	cases := []struct {
		name      string
		seed      func(s *seed, t *testing.T)
		noKeyring bool
		check     func(t *testing.T, r *status.Report)
		attention []string // substrings, each in one Attention line; none means healthy
	}{
		{name: "healthy", seed: (*seed).healthy, check: func(t *testing.T, r *status.Report) {
			if !r.Policy.Valid || r.Policy.Signature != "ok" || !r.Group.Exists || len(r.Group.Consumers) != 1 || r.Watch.Stale {
				t.Errorf("healthy deployment read as %+v", r)
			}
		}},
		{name: "no policy", seed: func(s *seed, t *testing.T) { s.consume(t, 0); s.heartbeat(t, time.Minute) },
			check: func(t *testing.T, r *status.Report) {
				if r.Policy.Present || r.Policy.Signature != string(reason.PolicyMissing) {
					t.Errorf("policy %+v", r.Policy)
				}
			}, attention: []string{"POLICY_MISSING"}},
		{name: "tampered policy", seed: func(s *seed, t *testing.T) {
			s.healthy(t)
			s.env.Client.HSet(s.ctx(), s.env.Keys.PolicyCurrent(), policy.FieldTradingState, "HALTED")
		}, check: func(t *testing.T, r *status.Report) {
			if r.Policy.Valid || r.Policy.Signature != string(reason.PolicyHashMismatch) {
				t.Errorf("policy %+v", r.Policy)
			}
		}, attention: []string{"policy not valid"}},
		{name: "near expiry", seed: func(s *seed, t *testing.T) {
			s.publish(t, 10*time.Minute)
			s.consume(t, 0)
			s.heartbeat(t, time.Minute)
		}, attention: []string{"is the refresh running?"}},
		{name: "signature not checked", seed: (*seed).healthy, noKeyring: true, check: func(t *testing.T, r *status.Report) {
			if r.Policy.Signature != "not checked" || r.Policy.Valid {
				t.Errorf("policy %+v", r.Policy)
			}
		}, attention: []string{"not checked"}},
		{name: "no apply layer", seed: func(s *seed, t *testing.T) { s.publish(t, 2*time.Hour); s.heartbeat(t, time.Minute) },
			attention: []string{"no apply layer has ever consumed"}},
		{name: "stale watch", seed: func(s *seed, t *testing.T) {
			s.publish(t, 2*time.Hour)
			s.consume(t, 0)
			s.heartbeat(t, time.Hour)
		}, check: func(t *testing.T, r *status.Report) {
			if !r.Watch.Stale || r.Watch.AgeSec != 3600 {
				t.Errorf("watch %+v", r.Watch)
			}
		}, attention: []string{"heartbeat 3600s old"}},
		{name: "results counted", seed: func(s *seed, t *testing.T) {
			s.healthy(t)
			s.result(t, plan.Result{PlanID: "a", Decision: plan.Executed, Executed: true})
			s.result(t, plan.Result{PlanID: "b", Decision: plan.Denied, Reason: reason.DenyNotExitOwner})
			s.result(t, plan.Result{PlanID: "c", Decision: plan.Denied, Reason: reason.DenyNotExitOwner})
			s.result(t, plan.Result{PlanID: "d", Decision: plan.Denied, Reason: reason.AuthMissing})
		}, check: func(t *testing.T, r *status.Report) {
			res := r.Results
			if res.Total != 4 || res.ByDecision["EXECUTED"] != 1 || res.ByDecision["DENIED"] != 3 ||
				res.Denials[string(reason.DenyNotExitOwner)] != 2 || res.Denials[string(reason.AuthMissing)] != 1 {
				t.Errorf("results %+v", res)
			}
		}},
		{name: "alert firing", seed: func(s *seed, t *testing.T) {
			s.healthy(t)
			s.env.Client.XAdd(s.ctx(), &redis.XAddArgs{Stream: s.env.Keys.Alerts(), Values: []any{"alert_type", "EXIT_OWNER_VIOLATION", "alert_id", "f-1", "status", "firing", "severity", "critical"}})
			s.env.Client.XAdd(s.ctx(), &redis.XAddArgs{Stream: s.env.Keys.Alerts(), Values: []any{"alert_type", "POLICY_EXPIRING", "alert_id", "g-1", "status", "firing", "severity", "warning"}})
			s.env.Client.XAdd(s.ctx(), &redis.XAddArgs{Stream: s.env.Keys.Alerts(), Values: []any{"alert_type", "POLICY_EXPIRING", "alert_id", "g-1", "status", "resolved", "severity", "warning"}})
		}, check: func(t *testing.T, r *status.Report) {
			if len(r.Alerts) != 1 || r.Alerts[0].AlertID != "f-1" {
				t.Errorf("open alerts %+v, want f-1 alone (g-1 resolved)", r.Alerts)
			}
		}, attention: []string{"EXIT_OWNER_VIOLATION f-1"}},
		{name: "backlog without consumer", seed: func(s *seed, t *testing.T) {
			s.publish(t, 2*time.Hour)
			s.heartbeat(t, time.Minute)
			s.consume(t, 3)
			s.env.Client.XGroupDelConsumer(s.ctx(), s.env.Keys.ApplyPlan(), keys.ApplyGroup, "c1")
			s.env.Client.XAdd(s.ctx(), &redis.XAddArgs{Stream: s.env.Keys.ApplyPlan(), Values: []any{"plan_id", "late"}})
		}, check: func(t *testing.T, r *status.Report) {
			if r.Group.Lag != 1 || len(r.Group.Consumers) != 0 {
				t.Errorf("group %+v, want lag 1 and no consumer", r.Group)
			}
		}, attention: []string{"no apply-layer consumer active"}},
		{name: "failed proof", seed: func(s *seed, t *testing.T) {
			s.healthy(t)
			s.env.Client.XAdd(s.ctx(), &redis.XAddArgs{Stream: s.env.Keys.ProofRuns(), Values: []any{"proof", "exit-owner-gate", "result", "FAIL"}})
		}, check: func(t *testing.T, r *status.Report) {
			if r.LastProof == nil || r.LastProof.Fields["result"] != "FAIL" {
				t.Errorf("last proof %+v", r.LastProof)
			}
		}, attention: []string{"exit-owner-gate FAIL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &seed{env: redistest.New(t), key: policytest.Key(t), now: now}
			c.seed(s, t)
			opt := status.Options{Keys: s.env.Keys, Now: func() time.Time { return now }}
			if !c.noKeyring {
				opt.Keyring = policy.NewTrustedKeys(s.key.Public())
			}
			r, err := status.Collect(context.Background(), s.env.Client, opt)
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, r)
			}
			if len(c.attention) == 0 && len(r.Attention) > 0 {
				t.Errorf("healthy case needs attention: %q", r.Attention)
			}
			for _, want := range c.attention {
				found := false
				for _, a := range r.Attention {
					found = found || strings.Contains(a, want)
				}
				if !found {
					t.Errorf("attention %q lacks %q", r.Attention, want)
				}
			}
		})
	}
}

// TestCollectRedisDown: a Redis that cannot be reached is an error ("could
// not check"), never a report that reads as healthy.
func TestCollectRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	r, err := status.Collect(context.Background(), c, status.Options{Keys: keys.MustNew("x"), Now: time.Now})
	if err == nil || r != nil {
		t.Fatalf("Collect on a dead Redis = %+v, %v", r, err)
	}
}

// TestCollectPlanStreamTampered: plans trimmed away before the apply layer
// read them, and the largest possible id, both need attention.
func TestCollectPlanStreamTampered(t *testing.T) {
	now := time.Now()
	s := &seed{env: redistest.New(t), key: policytest.Key(t), now: now}
	s.healthy(t)
	ctx := context.Background()
	if err := s.env.Client.Do(ctx, "XADD", s.env.Keys.ApplyPlan(), "MAXLEN", "0", "*", "plan_id", "trim").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.env.Client.XAdd(ctx, &redis.XAddArgs{Stream: s.env.Keys.ApplyPlan(), ID: "18446744073709551615-18446744073709551615", Values: []any{"plan_id", "far"}}).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := status.Collect(ctx, s.env.Client, status.Options{Keys: s.env.Keys, Now: func() time.Time { return now }, Keyring: policy.NewTrustedKeys(s.key.Public())})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, f := range r.Tampered {
		kinds[f.Kind] = true
	}
	if !kinds["deleted_unread"] || !kinds["future_id"] || !strings.Contains(strings.Join(r.Attention, "\n"), "PLAN_STREAM_TAMPERED") {
		t.Fatalf("tampered %+v, attention %q", r.Tampered, r.Attention)
	}
}

// TestCollectForgedResults: with the result key, a result without the
// apply layer's MAC is counted as forged, not as a decision, and needs
// attention.
func TestCollectForgedResults(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	key := []byte("result-key-0123456789abcdef0123456789abcdef")
	s := &seed{env: redistest.New(t), key: policytest.Key(t), now: now}
	s.healthy(t)
	ctx := context.Background()
	ok := plan.Result{PlanID: "a", Decision: plan.Executed, Executed: true, Timestamp: now.Unix()}
	forged := plan.Result{PlanID: "b", Decision: plan.Denied, Reason: reason.DenyNotExitOwner}
	s.env.Client.XAdd(ctx, &redis.XAddArgs{Stream: s.env.Keys.ApplyResult(), Values: ok.SignedFields(key)})
	s.env.Client.XAdd(ctx, &redis.XAddArgs{Stream: s.env.Keys.ApplyResult(), Values: forged.Fields()})
	r, err := status.Collect(ctx, s.env.Client, status.Options{Keys: s.env.Keys, Now: func() time.Time { return now },
		Keyring: policy.NewTrustedKeys(s.key.Public()), ResultKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if r.Results.Forged != 1 || r.Results.ByDecision["EXECUTED"] != 1 || r.Results.ByDecision["DENIED"] != 0 || !r.Results.Authenticated ||
		!strings.Contains(strings.Join(r.Attention, "\n"), "RESULT_FORGED") {
		t.Fatalf("results %+v, attention %q", r.Results, r.Attention)
	}
}
