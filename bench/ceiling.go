package bench

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
)

// The ceiling's scripts: the same number of script calls as the apply
// layer makes per plan, each doing the same kind of writes, without any of
// its decisions.
var (
	bareReserve  = redis.NewScript(`redis.call('HSETNX', KEYS[1], 'entry', ARGV[1]) return {'new', 'reserved'}`)
	barePlace    = redis.NewScript(`local id = redis.call('INCR', KEYS[2]) redis.call('HSET', KEYS[1], 'id', id, 'qty', ARGV[1]) return id`)
	bareFinalize = redis.NewScript(`local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) redis.call('SET', KEYS[1], id, 'EX', 60) redis.call('XACK', KEYS[3], ARGV[1], ARGV[2]) return id`)
)

// bareConsumer consumes ks's plan stream with the apply layer's command mix
// and no logic: per batch one XREADGROUP, one pipeline of the policy HGETALL
// and a reserve script per plan, one position read (the bench trades one
// symbol), then per plan a place script, and last one pipeline of a
// finalize script per plan (append the result, acknowledge).
func bareConsumer(ctx context.Context, rdb redis.UniversalClient, ks keys.Space) {
	stream, group := ks.ApplyPlan(), "bare"
	err := rdb.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return
	}
	rdb.HSet(ctx, ks.PolicyCurrent(), "policy_seq", "1", "policy_hash", "x")
	for _, sc := range []*redis.Script{bareReserve, barePlace, bareFinalize} {
		sc.Load(ctx, rdb)
	}
	for ctx.Err() == nil {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "bare", Streams: []string{stream, ">"}, Count: 64, Block: 100 * time.Millisecond}).Result()
		if errors.Is(err, redis.Nil) || err != nil {
			continue
		}
		msgs := res[0].Messages
		ids := make([]string, len(msgs))
		pipe := rdb.Pipeline()
		pipe.HGetAll(ctx, ks.PolicyCurrent())
		for i, m := range msgs {
			ids[i], _ = m.Values[plan.FieldPlanID].(string)
			bareReserve.EvalSha(ctx, pipe, []string{ks.Key("bare:plan:" + ids[i])}, m.ID)
		}
		pipe.Exec(ctx)
		rdb.HGet(ctx, ks.Key("bare:position"), "BTCUSDT")
		for i := range msgs {
			barePlace.Run(ctx, rdb, []string{ks.Key("bare:order:" + ids[i]), ks.Key("bare:seq")}, "0.001")
		}
		pipe = rdb.Pipeline()
		for i, m := range msgs {
			bareFinalize.EvalSha(ctx, pipe, []string{ks.Key("bare:done:" + m.ID), ks.ApplyResult(), stream},
				group, m.ID, plan.ResultPlanID, ids[i], plan.ResultDecision, string(plan.Executed))
		}
		pipe.Exec(ctx)
	}
}
