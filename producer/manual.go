package producer

import (
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/plan"
)

// Manual is a plan as an operator writes it by hand (`quantum plan send`):
// each field's text as given, the enumerations (decision, side, type) in
// any case.
type Manual struct {
	ID, Decision, Symbol, Side, Type, Qty, Price, Action string
	ReduceOnly, Canary                                   bool
	Leverage                                             int // 0: none in the plan
}

// Build returns the plan's fields, stamped now and signed as s. A plan that
// does not parse (plan.Parse) is refused with its error, unsigned.
func (m Manual) Build(s Signer, now time.Time) (map[string]string, error) {
	fields := map[string]string{
		plan.FieldPlanID: m.ID, plan.FieldDecision: strings.ToUpper(m.Decision), plan.FieldSymbol: m.Symbol,
		plan.FieldSide: strings.ToUpper(m.Side), plan.FieldType: strings.ToUpper(m.Type), plan.FieldQty: m.Qty,
		plan.FieldReduceOnly: strconv.FormatBool(m.ReduceOnly), plan.FieldSource: s.Source,
		plan.FieldTimestamp: strconv.FormatInt(now.Unix(), 10), plan.FieldAction: m.Action,
		plan.FieldCanary: strconv.FormatBool(m.Canary),
	}
	if m.Price != "" {
		fields[plan.FieldPrice] = m.Price
	}
	if m.Leverage > 0 {
		fields[plan.FieldLeverage] = strconv.Itoa(m.Leverage)
	}
	if _, err := plan.Parse(fields); err != nil {
		return nil, err
	}
	return plan.SignFields(fields, s.Secret), nil
}
