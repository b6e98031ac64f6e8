package applylayer

// The policy in use: read fail-closed, cached, verified again only when the
// stored fields change.

import (
	"context"
	"maps"
	"time"

	"github.com/quantumtrader/quantum/alert"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// policyCache holds the last verified policy and the fields it came from.
type policyCache struct {
	fields map[string]string
	signed *policy.Signed
	err    error
}

// refreshPolicy re-reads the policy hash (at start; batches re-read it in
// their pipeline).
func (s *Service) refreshPolicy(ctx context.Context) {
	fields, err := s.store.Raw(ctx)
	s.applyPolicy(ctx, fields, err)
}

// applyPolicy takes the policy hash as read: the signature is verified
// again only when the stored fields changed, and checked against the
// rollback memory (policystore.AcceptContext: in Redis too when the store
// has SharedMemory, so a restart does not forget).
func (s *Service) applyPolicy(ctx context.Context, fields map[string]string, err error) {
	if err != nil {
		if s.pol.err == nil || reason.CodeOf(s.pol.err) != reason.CodeOf(err) {
			s.cfg.Log.Error("policy unreadable: every plan is denied", "reason", reason.CodeOf(err), "error", err)
		}
		s.pol = policyCache{err: err}
		s.polCode.Store(reason.CodeOf(err))
		return
	}
	// The same fields decide the same way, except when the last try could
	// not reach the rollback memory: that is retried.
	if s.pol.fields != nil && maps.Equal(fields, s.pol.fields) && reason.CodeOf(s.pol.err) != reason.PolicyUnavailable {
		return
	}
	prev := s.pol.signed
	sp, err := s.store.AcceptContext(ctx, fields)
	s.pol = policyCache{fields: fields, signed: sp, err: err}
	s.polCode.Store(reason.CodeOf(err))
	s.rollbackAlert(ctx, err)
	switch {
	case err != nil:
		s.cfg.Log.Error("policy refused: every plan is denied until a valid policy is published",
			"reason", reason.CodeOf(err), "error", err)
	case prev == nil || prev.Hash != sp.Hash:
		s.cfg.Log.Info("policy loaded", "policy_version", sp.Version, "policy_seq", sp.Seq,
			"policy_hash", sp.Hash, "trading_state", sp.TradingState, "valid_until", sp.ValidUntil)
	}
}

// TypePolicyRollback is the alert of an older policy restored over a newer
// one (SPEC.md): every plan is denied POLICY_ROLLBACK meanwhile.
const TypePolicyRollback = "POLICY_ROLLBACK"

// rollbackAlert raises POLICY_ROLLBACK when the policy is refused as a
// rollback, and resolves it once a policy is accepted again.
func (s *Service) rollbackAlert(ctx context.Context, err error) {
	if s.cfg.Alerts == nil {
		return
	}
	a := alert.Alert{Type: TypePolicyRollback, Severity: alert.SeverityCritical, Count: alert.CountOccurrences, Window: time.Hour}
	switch {
	case reason.CodeOf(err) == reason.PolicyRollback:
		a.Details = map[string]string{"reason": string(reason.PolicyRollback), "detail": plan.Clip(err.Error())}
		s.cfg.Alerts.Fire(ctx, a, time.Hour)
	case err == nil:
		s.cfg.Alerts.Resolve(ctx, a) // Clear when nothing fires: publishes nothing
	}
}
