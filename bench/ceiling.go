package bench

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
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
// per plan (one XREADGROUP and one HGETALL per batch; per plan a reserve
// script, a position read, a record write, a place script and a finalize
// script that appends the result and acknowledges) and no logic at all.
func bareConsumer(ctx context.Context, rdb *redis.Client, ks keys.Space) {
	stream, group := ks.ApplyPlan(), "bare"
	err := rdb.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return
	}
	rdb.HSet(ctx, ks.PolicyCurrent(), "policy_seq", "1", "policy_hash", "x")
	for ctx.Err() == nil {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "bare", Streams: []string{stream, ">"}, Count: 64, Block: 100 * time.Millisecond}).Result()
		if errors.Is(err, redis.Nil) || err != nil {
			continue
		}
		rdb.HGetAll(ctx, ks.PolicyCurrent())
		for _, m := range res[0].Messages {
			id, _ := m.Values["plan_id"].(string)
			rec := ks.Key("bare:plan:" + id)
			bareReserve.Run(ctx, rdb, []string{rec}, m.ID)
			rdb.HGet(ctx, ks.Key("bare:position"), "BTCUSDT")
			rdb.HSet(ctx, rec, "state", "submitted")
			barePlace.Run(ctx, rdb, []string{ks.Key("bare:order:" + id), ks.Key("bare:seq")}, "0.001")
			bareFinalize.Run(ctx, rdb, []string{ks.Key("bare:done:" + m.ID), ks.ApplyResult(), stream},
				group, m.ID, "plan_id", id, "decision", "EXECUTED")
		}
	}
}
