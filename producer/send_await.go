package producer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
)

// Errors of SendAndAwait that are no failure of Redis.
var (
	// ErrNegativeReplicas: a negative number of replicas to confirm the
	// plan; nothing was sent.
	ErrNegativeReplicas = errors.New("min replicas: want a whole number, 0 or more")
	// ErrUnconfirmed: the plan was sent, but fewer replicas than asked
	// confirmed it, or its result did not come in time.
	ErrUnconfirmed = errors.New("sent, not confirmed")
)

// unconfirmed is an ErrUnconfirmed whose text says what was missing.
type unconfirmed struct{ msg string }

func (e *unconfirmed) Error() string        { return e.msg }
func (e *unconfirmed) Is(target error) bool { return target == ErrUnconfirmed }

// SendAndAwait sends the signed plan fields the way `quantum plan send`
// does: it takes the cursor, sends (confirmed by WAIT when minReplicas > 0,
// within 2s) and, when wait > 0, awaits the plan's result. It returns the
// plan's entry id and its result (nil when wait <= 0).
func SendAndAwait(ctx context.Context, rdb interface {
	Redis
	Pipeliner
}, ks keys.Space, fields map[string]string, minReplicas int, wait time.Duration) (string, *Received, error) {
	planID := fields[plan.FieldPlanID]
	cursor, err := Cursor(ctx, rdb, ks)
	if err != nil {
		return "", nil, err
	}
	if minReplicas < 0 {
		return "", nil, ErrNegativeReplicas
	}
	var id string
	if minReplicas == 0 {
		id, err = Send(ctx, rdb, ks, fields)
	} else {
		var acked int
		id, acked, err = SendConfirmed(ctx, rdb, ks, fields, minReplicas, 2*time.Second)
		if err == nil && acked < minReplicas {
			return id, nil, &unconfirmed{fmt.Sprintf("sent plan_id=%s (entry %s) but only %d of %d replica(s) confirmed it within 2s: a failover may lose it", planID, id, acked, minReplicas)}
		}
	}
	if err != nil || wait <= 0 {
		return id, nil, err
	}
	got, err := Await(ctx, rdb, ks, cursor, wait, planID)
	if err != nil {
		return id, nil, &unconfirmed{fmt.Sprintf("sent plan_id=%s (entry %s) but %v", planID, id, err)}
	}
	r := got[planID]
	return id, &r, nil
}

// WriteText writes the result's fields to w, one "name value" line each,
// aligned, in byte order of the names.
func (r Received) WriteText(w io.Writer) {
	res := r.Map()
	tw := texttable.New(w)
	for _, name := range slices.Sorted(maps.Keys(res)) {
		fmt.Fprintf(tw, "%s\t%s\n", name, res[name])
	}
	tw.Flush()
}
