package status

// Results of the window, by decision and denial reason.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/quantumtrader/quantum/plan"
	"github.com/redis/go-redis/v9"
)

func readResults(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	res := &r.Results
	res.WindowSec = int64(opt.Window / time.Second)
	res.ByDecision, res.Denials = map[string]int64{}, map[string]int64{}
	res.Authenticated = opt.ResultKey != nil
	defer func() {
		if res.Forged > 0 {
			r.attention("%d result(s) in the window whose result_mac does not verify (RESULT_FORGED): written by a Redis user other than the apply layer's", res.Forged)
		}
	}()
	start := strconv.FormatInt(now.Add(-opt.Window).UnixMilli(), 10)
	stream := opt.Keys.ApplyResult()
	for {
		msgs, err := rdb.XRangeN(ctx, stream, start, "+", 1000).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		for _, m := range msgs {
			res.Total++
			if opt.ResultKey != nil && !plan.VerifyResult(m.Values, opt.ResultKey) {
				res.Forged++
				continue
			}
			r := plan.ParseResult(m.Values)
			res.ByDecision[cmpOrS(string(r.Decision), "?")]++
			if r.Decision == plan.Denied {
				res.Denials[cmpOrS(string(r.Reason), "?")]++
			}
		}
		if len(msgs) < 1000 {
			return nil
		}
		if res.Total >= resultScanLimit {
			res.Truncated = true
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func cmpOrS(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
