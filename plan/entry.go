package plan

import (
	"fmt"

	"github.com/quantumtrader/quantum/reason"
)

// EntryPairs reads one stream entry of a raw XRANGE or XREADGROUP reply
// (as rdb.Do returns it: [id, [field, value, ...]]) into its id and its
// field/value pairs in the order sent, for ParseEntry. go-redis's typed
// replies are maps, which keep one copy of a repeated field: read plans
// raw so that ParseEntry sees them all.
func EntryPairs(raw any) (id string, pairs []string, err error) {
	e, ok := raw.([]any)
	if !ok || len(e) != 2 {
		return "", nil, reason.Errorf(reason.PlanInvalid, "stream entry is %T, not [id, fields]", raw)
	}
	if id, ok = e[0].(string); !ok {
		return "", nil, reason.Errorf(reason.PlanInvalid, "stream entry id is %T", e[0])
	}
	fields, ok := e[1].([]any)
	if !ok {
		return id, nil, reason.Errorf(reason.PlanInvalid, "stream entry %s: fields are %T", id, e[1])
	}
	pairs = make([]string, len(fields))
	for i, f := range fields {
		if pairs[i], ok = f.(string); !ok {
			return id, nil, reason.Errorf(reason.PlanInvalid, "stream entry %s: field %d is %s", id, i, fmt.Sprintf("%T", f))
		}
	}
	return id, pairs, nil
}
