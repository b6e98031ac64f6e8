package status

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/policy"
)

// Exposure is the account against the policy's exposure limits: the
// snapshot the apply layer wrote at its newest decision under them
// (applylayer.AccountSnapshot), the limits as the live policy states them,
// and the entries reserved and not yet filled. Absent (nil) when the
// policy sets no exposure limit and no snapshot exists.
type Exposure struct {
	Snapshot *applylayer.AccountSnapshot `json:"snapshot"` // nil: no decision under exposure limits yet
	AgeSec   int64                       `json:"age_sec"`
	Reserved int                         `json:"reserved_entries"`
	// Limits are the policy's fields as stored (text), by field name.
	Limits map[string]string `json:"limits"`
}

// exposureFields are the policy's exposure limits.
var exposureFields = []string{policy.FieldMaxPositionNotional, policy.FieldMaxGrossExposure, policy.FieldMaxOpenPositions, policy.FieldMaxDailyLoss}

func readExposure(ctx context.Context, rdb redis.Cmdable, opt Options, now time.Time, r *Report) error {
	vals, err := rdb.HMGet(ctx, opt.Keys.PolicyCurrent(), exposureFields...).Result()
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		return nil // not a policy: readPolicy said so
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.PolicyCurrent(), err)
	}
	limits := map[string]string{}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			limits[exposureFields[i]] = s
		}
	}
	h, err := rdb.HGetAll(ctx, opt.Keys.ApplyExposureStatus()).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.ApplyExposureStatus(), err)
	}
	res, err := rdb.HGetAll(ctx, opt.Keys.ApplyExposure()).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Keys.ApplyExposure(), err)
	}
	snap, ok := applylayer.ParseAccountSnapshot(h)
	if len(limits) == 0 && !ok {
		return nil
	}
	e := &Exposure{Limits: limits}
	if _, reserved, _, err := applylayer.ParseReservations(res, now, applylayer.DefaultRecordTTL); err != nil {
		r.attention("the account reservation %s is unreadable (%v): entries under exposure limits are denied", opt.Keys.ApplyExposure(), err)
	} else {
		e.Reserved = len(reserved)
	}
	if ok {
		e.Snapshot, e.AgeSec = &snap, int64(now.Sub(snap.At)/time.Second)
		if limit, err := strconv.ParseFloat(limits[policy.FieldMaxDailyLoss], 64); err == nil && snap.PnLRead && -snap.DayPnLUSDT >= limit {
			r.attention("the day's loss %.2f USDT is at or beyond max_daily_loss_usdt %s: entries are denied (DAILY_LOSS_LIMIT_REACHED) until 00:00 UTC", -snap.DayPnLUSDT, limits[policy.FieldMaxDailyLoss])
		}
		if limit, err := strconv.ParseFloat(limits[policy.FieldMaxGrossExposure], 64); err == nil && snap.GrossRead && snap.GrossUSDT > limit {
			r.attention("gross exposure %.2f USDT is above max_gross_exposure_usdt %s (the marks moved): entries are denied", snap.GrossUSDT, limits[policy.FieldMaxGrossExposure])
		}
	}
	r.Exposure = e
	return nil
}
