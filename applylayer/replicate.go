package applylayer

// Durability before the order: with MinReplicas > 0, the batch's execution
// records must reach that many replicas (one WAIT per batch, in the same
// pipeline and so on the same connection as the reservations) before any
// of its plans is sent to the venue. A plan whose record could be lost in
// a failover is not sent: its result is FAILED REDIS_NOT_REPLICATED (a
// plan that may already be at the venue from an earlier attempt is still
// looked up first). With MinReplicas 0 (the default) the apply layer says
// at start that an asynchronous failover may lose acknowledged plans.

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/reason"
)

// DefaultReplicaWait bounds how long a batch waits for its replicas.
const DefaultReplicaWait = 500 * time.Millisecond

// waitReplicas appends the batch's WAIT to pipe, nil when not required.
func (s *Service) waitReplicas(ctx context.Context, pipe redis.Pipeliner) *redis.Cmd {
	if s.cfg.MinReplicas <= 0 {
		return nil
	}
	return pipe.Do(ctx, "WAIT", s.cfg.MinReplicas, s.cfg.ReplicaWait.Milliseconds())
}

// replicated reads the batch's WAIT: true when not required or reached.
func (s *Service) replicated(wait *redis.Cmd) bool {
	if wait == nil {
		return true
	}
	n, err := wait.Int64()
	if err != nil || n < int64(s.cfg.MinReplicas) {
		s.cfg.Log.Error("execution records not replicated: the batch's plans are not sent", "replicas_acked", n,
			"min_replicas", s.cfg.MinReplicas, "wait", s.cfg.ReplicaWait, "error", err)
		return false
	}
	return true
}

// notReplicatedOutcome is the result of a plan held back by replicated.
func (s *Service) notReplicatedOutcome() outcome {
	return outcome{decision: plan.Failed, code: reason.RedisNotReplicated,
		detail: fmt.Sprintf("execution record not on %d replica(s) within %s: not sent, so a failover cannot lose an order", s.cfg.MinReplicas, s.cfg.ReplicaWait)}
}
