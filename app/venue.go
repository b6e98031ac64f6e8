package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/keys"
)

// Venue kinds of VenueOptions.Kind.
const (
	VenuePaper   = "paper"
	VenueBinance = "binance"
)

// VenueOptions configures OpenVenue.
type VenueOptions struct {
	Kind        string            // VenuePaper or VenueBinance
	PaperPrices map[string]string // the paper venue's marks by symbol (paper.ParsePrice reads SYMBOL=PRICE)
	// PaperSteps are quantity steps by symbol over paper.DefaultSteps (any
	// other symbol: paper.DefaultStep): the paper venue rounds down to them.
	PaperSteps map[string]string
	// PaperRetention is how long the paper venue holds an order
	// (paper.DefaultOrderRetention when 0).
	PaperRetention time.Duration
	Binance        binance.Config
	Redis          redis.UniversalClient // the paper venue keeps its state here
	Keys           keys.Space
	Registerer     prometheus.Registerer // optional: the Binance adapter's metrics
	Log            *slog.Logger
}

// Both venues give the apply layer the day's PnL, so the daily loss stop
// (max_daily_loss_usdt) decides entries on the venue's figure.
var (
	_ applylayer.PnLReader = (*paper.Venue)(nil)
	_ applylayer.PnLReader = (*binance.Client)(nil)
)

// OpenVenue opens the venue of opt.Kind. Binance is reached here (time
// offset, position mode, filters), and an error is returned when it cannot
// be: the apply layer does not start without its venue.
func OpenVenue(ctx context.Context, opt VenueOptions) (exchange.Venue, error) {
	switch opt.Kind {
	case VenuePaper:
		v, err := paper.New(opt.Redis, opt.Keys, opt.PaperPrices)
		if err != nil {
			return nil, err
		}
		if opt.PaperRetention > 0 {
			if v, err = v.WithRetention(opt.PaperRetention); err != nil {
				return nil, err
			}
		}
		steps := maps.Clone(paper.DefaultSteps)
		maps.Copy(steps, opt.PaperSteps)
		return v.WithSteps(steps, paper.DefaultStep)
	case VenueBinance:
		if len(opt.PaperPrices) > 0 {
			return nil, errors.New("paper prices apply to the paper venue only: Binance has its own mark prices")
		}
		cfg := opt.Binance
		if opt.Registerer != nil {
			cfg.Metrics = binance.NewMetrics(opt.Registerer)
		}
		// Replicas share the rate limiter's windows and back-off in Redis,
		// under the key prefix. Open logs the LIVE banner for Binance's
		// live host, however the URL is spelled.
		if cfg.Limiter == nil && opt.Redis != nil {
			cfg.Limiter = binance.NewRedisLimiter(opt.Redis, opt.Keys.Prefix())
		}
		if cfg.Log == nil {
			cfg.Log = opt.Log
		}
		return binance.Open(ctx, cfg)
	default:
		return nil, fmt.Errorf("venue %q: want %s or %s", opt.Kind, VenuePaper, VenueBinance)
	}
}
