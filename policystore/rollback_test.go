package policystore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redistest"
	"github.com/quantumtrader/quantum/internal/testkit"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policy/policytest"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

// deployment is a redis-server with the shipped ACL and one Store per
// role, each connected as that role's user, in the production namespace.
type deployment struct {
	key    *policy.PrivateKey
	clock  *testkit.Clock
	client func(user string) *redis.Client
	admin  *redis.Client
	ks     keys.Space
}

func newDeployment(t *testing.T) *deployment {
	client, _ := redistest.ShippedACL(t)
	return &deployment{key: policytest.Key(t), clock: testkit.NewClock(t0), client: client,
		admin: client("admin"), ks: keys.MustNew(keys.DefaultPrefix)}
}

// store returns a Store connected as user; shared gives it the Redis
// rollback memory (the apply layer's).
func (d *deployment) store(t *testing.T, user string, shared bool) *policystore.Store {
	t.Helper()
	s, err := policystore.New(d.client(user), policystore.Options{
		Keys: d.ks, Keyring: policy.NewTrustedKeys(d.key.Public()), Now: d.clock.Now, SharedMemory: shared,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (d *deployment) sign(t *testing.T, seq uint64, state policy.TradingState) *policy.Signed {
	p := policytest.Sample(d.clock.Now(), seq)
	p.TradingState = state
	return policytest.Sign(t, p, d.key)
}

func wantCode(t *testing.T, what string, err error, want reason.Code) {
	t.Helper()
	if got := reason.CodeOf(err); got != want {
		t.Fatalf("%s: %q (%v), want %q", what, got, err, want)
	}
}

// TestRollbackSurvivesRestart is issue 17's attack 3 under the shipped
// ACL: the operator publishes HALTED (seq 6) over ACTIVE (seq 5); the
// policy writer's user (quantum-refresh) restores the older ACTIVE policy,
// still validly signed and fresh, byte for byte, and tries to lower the
// apply layer's memory. A running apply-layer Store refuses it; so does a
// freshly created one (the restart, which before had no memory); so do the
// one-shot checks of policy verify and status (CheckHistory, as the
// operator's user).
func TestRollbackSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	d := newDeployment(t)
	publisher := d.store(t, "quantum-refresh", false)
	apply := d.store(t, "quantum-apply-layer", true)

	active := d.sign(t, 5, policy.StateActive)
	if _, err := publisher.Publish(ctx, active, "refresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Load(ctx); err != nil {
		t.Fatalf("apply layer, ACTIVE seq 5: %v", err)
	}
	oldFields := policytest.Fields(t, active)
	d.clock.Advance(time.Minute)
	halted := d.sign(t, 6, policy.StateHalted)
	if _, err := publisher.Publish(ctx, halted, "operator"); err != nil {
		t.Fatal(err)
	}
	if sp, err := apply.Load(ctx); err != nil || sp.TradingState != policy.StateHalted {
		t.Fatalf("apply layer, HALTED seq 6: %v %v", sp, err)
	}

	// The attack, as the policy writer's Redis user.
	attacker := d.client("quantum-refresh")
	if err := attacker.Del(ctx, d.ks.PolicyCurrent()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := attacker.HSet(ctx, d.ks.PolicyCurrent(), oldFields).Err(); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"HSET the mark":  attacker.HSet(ctx, d.ks.PolicyHighWater(), "policy_seq", "1").Err(),
		"DEL the mark":   attacker.Del(ctx, d.ks.PolicyHighWater()).Err(),
		"EVAL the mark":  attacker.Eval(ctx, "return redis.call('DEL', KEYS[1])", []string{d.ks.PolicyHighWater()}).Err(),
		"proof role DEL": d.client("quantum-proof").Del(ctx, d.ks.PolicyHighWater()).Err(),
		"producer HSET":  d.client("quantum-producer").HSet(ctx, d.ks.PolicyHighWater(), "policy_seq", "1").Err(),
	} {
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("%s: %v, want NOPERM: the policy writer could lower the memory", what, err)
		}
	}
	if _, err := policy.Verify(oldFields, policy.NewTrustedKeys(d.key.Public()), d.clock.Now(), time.Second); err != nil {
		t.Fatalf("fixture: the restored policy must be valid on its own: %v", err)
	}

	_, err := apply.Load(ctx)
	wantCode(t, "running apply layer", err, reason.PolicyRollback)
	restarted := d.store(t, "quantum-apply-layer", true)
	_, err = restarted.Load(ctx)
	wantCode(t, "restarted apply layer", err, reason.PolicyRollback)
	if !strings.Contains(err.Error(), "high-water") {
		t.Errorf("the refusal does not say where the memory is: %v", err)
	}

	operator := d.store(t, "quantum-operator", false)
	sp, err := operator.Load(ctx)
	if err != nil {
		t.Fatalf("a one-shot reader has no memory of its own: %v", err)
	}
	err = operator.CheckHistory(ctx, sp)
	wantCode(t, "operator's CheckHistory", err, reason.PolicyRollback)
	if !strings.Contains(err.Error(), "policy_seq 6") {
		t.Errorf("CheckHistory does not name the newer policy: %v", err)
	}

	// Even with the audit trail erased (the admin's doing: no role may),
	// the mark alone still tells, to the operator and to a restart.
	d.admin.Del(ctx, d.ks.PolicyUpdate(), d.ks.PolicyAudit())
	wantCode(t, "CheckHistory from the mark alone", operator.CheckHistory(ctx, sp), reason.PolicyRollback)
	_, err = d.store(t, "quantum-apply-layer", true).Load(ctx)
	wantCode(t, "second restart", err, reason.PolicyRollback)

	// The way out: a new publish above the mark. The refresh can read
	// the mark, so it counts on from 6 without being told.
	if next, _, err := publisher.LiveSeq(ctx); err != nil || next != 6 {
		t.Fatalf("publisher's floor %d %v, want 6 (from the mark)", next, err)
	}
	d.clock.Advance(time.Minute)
	if _, err := publisher.Publish(ctx, d.sign(t, 7, policy.StateHalted), "operator"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*policystore.Store{"running": apply, "restarted": restarted} {
		if sp, err := s.Load(ctx); err != nil || sp.Seq != 7 {
			t.Fatalf("%s apply layer after the new publish: %v %v", name, sp, err)
		}
	}
	mark, err := operator.HighWater(ctx)
	if err != nil || mark == nil || mark.Seq != 7 {
		t.Fatalf("mark %+v %v, want seq 7", mark, err)
	}
}

// TestSameSeqOtherPolicy: a second policy signed with a seq already
// accepted (only the signer can make one) is a rollback for a reader that
// remembers the first, running or restarted.
func TestSameSeqOtherPolicy(t *testing.T) {
	ctx := context.Background()
	d := newDeployment(t)
	publisher := d.store(t, "quantum-refresh", false)
	apply := d.store(t, "quantum-apply-layer", true)
	if _, err := publisher.Publish(ctx, d.sign(t, 3, policy.StateHalted), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Load(ctx); err != nil {
		t.Fatal(err)
	}
	twin := policytest.Fields(t, d.sign(t, 3, policy.StateActive))
	d.admin.Del(ctx, d.ks.PolicyCurrent())
	d.admin.HSet(ctx, d.ks.PolicyCurrent(), twin)
	_, err := apply.Load(ctx)
	wantCode(t, "running", err, reason.PolicyRollback)
	_, err = d.store(t, "quantum-apply-layer", true).Load(ctx)
	wantCode(t, "restarted", err, reason.PolicyRollback)
}

// TestDeleteThenRefreshIsNoRollback (issue 13): after a manual DEL of the
// policy key, the next publish continues policy_seq from the audit trail
// instead of restarting at 1, so a running reader accepts it; 20 rounds.
// Before, the publish after a DEL took seq 1 and the running apply layer
// refused it as POLICY_ROLLBACK.
func TestDeleteThenRefreshIsNoRollback(t *testing.T) {
	ctx := context.Background()
	d := newDeployment(t)
	publisher := d.store(t, "quantum-refresh", false)
	apply := d.store(t, "quantum-apply-layer", true)
	content, err := policy.ParseContent(strings.NewReader(policytest.ContentJSON))
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 20; round++ {
		sp, _, err := publisher.SignAndPublish(ctx, content, d.key, policystore.Release{Validity: time.Hour, Generator: "test", Actor: "refresh"})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if sp.Seq != uint64(round) {
			t.Fatalf("round %d published seq %d", round, sp.Seq)
		}
		if _, err := apply.Load(ctx); err != nil {
			t.Fatalf("round %d: the running reader: %v", round, err)
		}
		if err := d.client("quantum-refresh").Del(ctx, d.ks.PolicyCurrent()).Err(); err != nil {
			t.Fatal(err)
		}
		_, err = apply.Load(ctx)
		wantCode(t, "after DEL", err, reason.PolicyMissing)
		d.clock.Advance(time.Second)
	}
}

// TestTamperedLiveSeqNeverBlocksPublish: whatever the policy writer's
// user writes into the live policy_seq (a number too big for Go or Lua,
// an exponent, garbage, a plain but unsigned higher number), `policy
// publish --seq N` above the highest verified seq succeeds, and a seq at
// or below it is refused. Before, "1e30" and "18446744073709551615" made
// the Lua script refuse every seq and "abc" made Go refuse to count.
func TestTamperedLiveSeqNeverBlocksPublish(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"1e30", "18446744073709551615", "9007199254740992", "abc", "", " 7", "007", "+9", "0x10", "-1", "5000"} {
		t.Run(bad, func(t *testing.T) {
			d := newDeployment(t)
			publisher := d.store(t, "quantum-refresh", false)
			if _, err := publisher.Publish(ctx, d.sign(t, 4, policy.StateActive), "test"); err != nil {
				t.Fatal(err)
			}
			if err := d.client("quantum-refresh").HSet(ctx, d.ks.PolicyCurrent(), policy.FieldSeq, bad).Err(); err != nil {
				t.Fatal(err)
			}
			if seq, _, err := publisher.LiveSeq(ctx); err != nil || seq != 4 {
				t.Fatalf("floor %d %v, want 4 (the verified seq, from the audit trail)", seq, err)
			}
			_, err := publisher.Publish(ctx, d.sign(t, 4, policy.StateActive), "test")
			wantCode(t, "seq 4 again", err, reason.PolicyRollback)
			if _, err := publisher.Publish(ctx, d.sign(t, 5, policy.StateHalted), "test"); err != nil {
				t.Fatalf("publish --seq 5 over a tampered live seq %q: %v", bad, err)
			}
		})
	}
}

// TestGoAndLuaReadASeqAlike: the publish script (Lua, on the real Redis)
// and Go (policy.ParseSeq, Store.LiveSeq) read policy_seq values in the
// audit trail the same way: for each text, Go's floor says what the script
// then does with a publish just above and at it.
func TestGoAndLuaReadASeqAlike(t *testing.T) {
	ctx := context.Background()
	for _, text := range []string{"7", "1e30", "18446744073709551615", "9007199254740991", "9007199254740992", "9999999999999999",
		"12345678901234567", "abc", "", " 7", "7 ", "007", "+9", "0x10", "-1", "1.0", "0", "1_0", "٣"} {
		t.Run(text, func(t *testing.T) {
			d := newDeployment(t)
			publisher := d.store(t, "quantum-refresh", false)
			// An audit-trail entry as the policy writer's user could add one.
			if err := d.client("quantum-refresh").XAdd(ctx, &redis.XAddArgs{Stream: d.ks.PolicyUpdate(),
				Values: []string{"event", "policy.updated", "policy_seq", text, "policy_hash", "x"}}).Err(); err != nil {
				t.Fatal(err)
			}
			goSeq, goOK := policy.ParseSeq(text)
			floor, _, err := publisher.LiveSeq(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]uint64{true: goSeq, false: 0}[goOK]; floor != want {
				t.Fatalf("Store floor %d, ParseSeq %d %v", floor, goSeq, goOK)
			}
			if floor > policy.MaxSeq-1 {
				return // no valid seq above it to publish
			}
			if floor > 0 {
				_, err := publisher.Publish(ctx, d.sign(t, floor, policy.StateActive), "test")
				wantCode(t, "Lua: publish at Go's floor", err, reason.PolicyRollback)
			}
			if _, err := publisher.Publish(ctx, d.sign(t, floor+1, policy.StateActive), "test"); err != nil {
				t.Fatalf("Lua refuses floor+1 = %d, which Go allows: %v", floor+1, err)
			}
		})
	}
}

// TestHighWaterRaceNeverLowers: two replicas accept policies n and n+1 at
// the same moment, 200 trials. The mark always ends at n+1 (never lowered
// by the slower, older one), the replica that saw n last refuses it
// afterwards, and a fresh reader refuses n.
func TestHighWaterRaceNeverLowers(t *testing.T) {
	ctx := context.Background()
	env := redistest.New(t)
	k := policytest.Key(t)
	clock := testkit.NewClock(t0)
	newStore := func() *policystore.Store {
		s, err := policystore.New(env.Client, policystore.Options{Keys: env.Keys, Keyring: policy.NewTrustedKeys(k.Public()), Now: clock.Now, SharedMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := newStore(), newStore()
	const trials = 200
	prev := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, 1), k))
	for n := uint64(1); n <= trials; n++ {
		next := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, n+1), k))
		errs := make(chan error, 2)
		go func() { _, err := a.AcceptContext(ctx, next); errs <- err }()
		go func() { _, err := b.AcceptContext(ctx, prev); errs <- err }()
		for range 2 {
			if err := <-errs; err != nil && reason.CodeOf(err) != reason.PolicyRollback {
				t.Fatalf("trial %d: %v", n, err)
			}
		}
		mark, err := a.HighWater(ctx)
		if err != nil || mark == nil || mark.Seq != n+1 {
			t.Fatalf("trial %d: mark %+v %v, want seq %d", n, mark, err, n+1)
		}
		if _, err := b.AcceptContext(ctx, next); err != nil {
			t.Fatalf("trial %d: b refuses the newest: %v", n, err)
		}
		_, err = b.AcceptContext(ctx, prev)
		wantCode(t, "b, older after newer", err, reason.PolicyRollback)
		prev = next
	}
	old := policytest.Fields(t, policytest.Sign(t, policytest.Sample(t0, trials), k))
	_, err := newStore().AcceptContext(ctx, old)
	wantCode(t, "fresh reader, older policy", err, reason.PolicyRollback)
}
