package applylayer

import (
	"fmt"

	"github.com/quantumtrader/quantum/plan"
)

// logOwnershipDenial writes the one log line of an ownership denial: the
// SPEC line operators grep (`grep -c DENY_NOT_EXIT_OWNER` counts denials,
// so no other line of the denial carries the code). In shadow mode nothing
// was denied for real: the line says what would have been, without the code.
func (s *Service) logOwnershipDenial(it *item, detail string) {
	p := it.p
	if s.cfg.Shadow {
		s.cfg.Log.Info(fmt.Sprintf("shadow: would deny a close by a non-owner symbol=%s source=%s plan_id=%s action=%s expected=%s",
			p.Symbol, p.Source, p.ID, plan.SafeLabel(p.Action), s.cfg.Gate.ExitOwner), "entry", it.msg.ID, "detail", detail)
		return
	}
	s.cfg.Log.Warn(fmt.Sprintf("DENY_NOT_EXIT_OWNER symbol=%s source=%s plan_id=%s action=%s expected=%s",
		p.Symbol, p.Source, p.ID, plan.SafeLabel(p.Action), s.cfg.Gate.ExitOwner), "canary", p.Canary, "entry", it.msg.ID, "detail", detail)
}
