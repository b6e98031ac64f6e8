// Package keys names every Redis key the governance core reads or writes.
//
// All names hang off one prefix (default "quantum", SPEC.md), so that tests
// and proofs can work in a scratch namespace of a live Redis without touching
// production keys: with prefix "proof-x", the live policy is
// "proof-x:policy:current".
package keys

import (
	"fmt"
	"regexp"
	"strconv"
)

// DefaultPrefix is the production namespace.
const DefaultPrefix = "quantum"

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9{][A-Za-z0-9_.:{}-]{0,63}$`)

// Space is a key namespace. The zero value is not usable: build one with New.
type Space struct{ prefix string }

// New returns the namespace for prefix. A prefix is 1 to 64 characters of
// letters, digits and _ . : { } - starting with a letter, a digit or { (a Redis Cluster hash tag); anything
// else (an empty prefix, spaces, glob characters) is refused so that a typo
// cannot silently address another namespace.
func New(prefix string) (Space, error) {
	if !prefixRE.MatchString(prefix) {
		return Space{}, fmt.Errorf("invalid key prefix %q: want 1-64 of [A-Za-z0-9_.:{}-], starting with a letter, a digit or { (a Redis Cluster hash tag)", prefix)
	}
	return Space{prefix: prefix}, nil
}

// MustNew is New for prefixes known to be valid (constants, tests).
func MustNew(prefix string) Space {
	s, err := New(prefix)
	if err != nil {
		panic(err)
	}
	return s
}

// Prefix returns the namespace's prefix.
func (s Space) Prefix() string { return s.prefix }

// Key returns prefix:name, for keys of our own not listed here.
func (s Space) Key(name string) string { return s.prefix + ":" + name }

// PolicyCurrent is the live policy hash.
func (s Space) PolicyCurrent() string { return s.Key("policy:current") }

// PolicyPublished is a copy of the policy hash as the last publish wrote
// it, written in the same atomic step: what the live policy's signature
// covers, so that verify and status can name the fields a legacy writer
// changed in the live hash (policystore.Divergence). Only publishers
// write it.
func (s Space) PolicyPublished() string { return s.Key("policy:published") }

// PolicyUpdate is the stream announcing each publish (reload trigger).
func (s Space) PolicyUpdate() string { return s.Key("stream:policy.update") }

// PolicyAudit is the audit trail of publishes and refused refreshes.
func (s Space) PolicyAudit() string { return s.Key("stream:policy.audit") }

// ApplyPlan is the stream producers write plans to.
func (s Space) ApplyPlan() string { return s.Key("stream:apply.plan") }

// ApplyResult is the stream of one result per plan.
func (s Space) ApplyResult() string { return s.Key("stream:apply.result") }

// ApplyShadow is the stream where an apply layer in shadow mode writes
// what it would have done (the fields of ApplyResult); it never reaches a
// venue.
func (s Space) ApplyShadow() string { return s.Key("stream:apply.shadow") }

// ShadowState is the namespace of a shadow apply layer's own state
// (execution records, done markers, symbol leases, rate counters), apart
// from the enforcing apply layer's so the two never contend.
func (s Space) ShadowState() Space { return Space{prefix: s.prefix + ":shadow"} }

// OperatorAudit is the audit trail of operators' commands that act on
// positions (quantum close, quantum flatten).
func (s Space) OperatorAudit() string { return s.Key("stream:operator.audit") }

// Alerts is the alert stream.
func (s Space) Alerts() string { return s.Key("stream:alerts") }

// ProofRuns is the proofs ledger stream.
func (s Space) ProofRuns() string { return s.Key("stream:proof.runs") }

// ApplyGroup is the apply layer's consumer group on ApplyPlan (the default
// of --group; status reads it).
const ApplyGroup = "apply_layer"

// ApplyShadowGroup is the consumer group of an apply layer in shadow mode.
const ApplyShadowGroup = "apply_layer_shadow"

// Heartbeat jobs of the exit-owner watch: the 5-minute timer and the follow
// mode (package watch writes them, status and the proofs read them).
const (
	JobWatchTimer  = "exit-owner-watch"
	JobWatchFollow = "exit-owner-follow"
)

// ApplyRecord is where a plan's execution record was kept before records
// were scoped by source (PlanRecord): read only, for the records of the
// previous release until they expire.
func (s Space) ApplyRecord(planID string) string { return s.Key("apply:plan:" + planID) }

// ApplyOrderIndex maps a client order id to its plan's execution record,
// for as long as the record lives: the reconciliation job finds venue
// orders of ours that no record knows (orphans).
func (s Space) ApplyOrderIndex(clientOrderID string) string {
	return s.Key("apply:coid:" + clientOrderID)
}

// ApplyOrderIndexSince is when the apply layer began indexing client order
// ids (unix seconds): older orders cannot be judged by the index.
func (s Space) ApplyOrderIndexSince() string { return s.Key("apply:coid-since") }

// ApplyOrphan records an order of ours found at the venue without a record.
func (s Space) ApplyOrphan(clientOrderID string) string {
	return s.Key("apply:orphan:" + clientOrderID)
}

// ApplyTamper records, per kind, the plan stream tampering event last
// raised (package applylayer), so each event is alerted once.
func (s Space) ApplyTamper() string { return s.Key("apply:tamper") }

// ApplySymbolLease is the lease that serializes one symbol's position
// read, decision and order across every apply-layer replica.
func (s Space) ApplySymbolLease(symbol string) string { return s.Key("apply:symbol:" + symbol) }

// ApplyExposure is the account reservation of the exposure limits (issue
// 15): a hash holding the entries decided but not yet filled, by plan_id,
// the symbols entries were decided on, and a version every reservation
// moves, so that replicas deciding entries on different symbols at once
// never together pass a gross exposure or open-position cap.
func (s Space) ApplyExposure() string { return s.Key("apply:exposure") }

// ApplyExposureStatus is the account as the newest entry decided under
// exposure limits saw it (exposure per symbol, gross, open positions, the
// day's PnL): written by the apply layer, read by status.
func (s Space) ApplyExposureStatus() string { return s.Key("apply:exposure:status") }

// ApplyDone marks a plan stream entry whose result was written.
func (s Space) ApplyDone(entryID string) string { return s.Key("apply:done:" + entryID) }

// ApplyRate is the order counter of one minute (unix minute), for
// max_orders_per_minute.
func (s Space) ApplyRate(minute int64) string {
	return s.Key("apply:rate:" + strconv.FormatInt(minute, 10))
}

// AlertIncident is the dedupe state of one alert identity (package alert):
// whether its incident is firing, since when, and when it was last notified.
func (s Space) AlertIncident(fingerprint string) string {
	return s.Key("alert:incident:" + fingerprint)
}

// Heartbeat is the hash where a periodic job records its last run: when,
// with what outcome and, for a failed run, why. A heartbeat that stops
// moving is a dead job (package watch writes job "exit-owner-watch" and
// "exit-owner-follow").
func (s Space) Heartbeat(job string) string { return s.Key("heartbeat:" + job) }

// RefreshRuns is the hash of the policy refreshes in progress (package
// refresh): one field per run, removed when it ends, so that the next run
// finds, and audits, one that was killed.
func (s Space) RefreshRuns() string { return s.Key("refresh:running") }

// PolicyHighWater is the rollback memory that survives restarts: a hash
// (policy_seq, policy_hash, raised_at) holding the highest policy an apply
// layer has accepted. It lives under apply:*, which only the apply layer's
// Redis user may write (deploy/redis/users.acl): the policy writer cannot
// lower it. It is raised atomically and never lowered (policystore).
func (s Space) PolicyHighWater() string { return s.Key("apply:policy:highwater") }

// PlanRecord is the execution record of one plan, scoped by its source:
// one producer cannot squat another's plan_id. A source has no ":" (plan.
// ValidSource), so source and plan_id never run together ambiguously.
func (s Space) PlanRecord(source, planID string) string {
	return s.Key("apply:record:" + source + ":" + planID)
}
