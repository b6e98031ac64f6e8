package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange"
	"github.com/quantumtrader/quantum/exchange/binance"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/internal/canon"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policystore"
)

// ApplyLayerConfig is an apply layer as an operator configures it: file
// paths, lists and names as apply-layer's flags and environment give them.
// Build checks and loads them (keyring, trusted keys, result key, venue)
// and wires the service with NewApplyLayer. Its errors name the flag.
type ApplyLayerConfig struct {
	Keyring         string // --keyring: the producers' keyring file ("" only with Auth off)
	Pubkeys         string // --pubkey: trusted policy public key files, comma-separated
	PolicyEncodings string // the value of policy.EncodingsEnv ("": v2 only)
	Auth            string // --auth: "required" or "off"
	PlanEncodings   string // --plan-encodings: "v2" or "v1,v2"
	ResultKey       string // --result-key: the result key's file ("": results unsigned)
	ExitOwner       string // --exit-owner
	BreakGlass      string // --break-glass, comma-separated
	ProofSource     string // --proof-source
	Venue           VenueConfig
	Group, Consumer string
	Batch           int64
	ClaimIdle       time.Duration
	Freshness       time.Duration
	RecordTTL       time.Duration
	MinReplicas     int // --min-replicas: 0 or more
	ReplicaWait     time.Duration
	Shadow          bool // --mode shadow

	Redis      redis.UniversalClient
	Keys       keys.Space
	Now        func() time.Time
	Log        *slog.Logger
	Registerer prometheus.Registerer // the service's and the venue's metrics (optional)
}

// AuthOff reports whether the configuration accepts unsigned plans.
func (cfg ApplyLayerConfig) AuthOff() bool { return cfg.Auth == "off" }

// Build checks cfg, loads its files, opens its venue (Binance is reached
// here and refuses to start when it cannot be) and returns the service.
func (cfg ApplyLayerConfig) Build(ctx context.Context) (*applylayer.Service, error) {
	authOff := false
	switch cfg.Auth {
	case "required":
	case "off":
		authOff = true
	default:
		return nil, fmt.Errorf("--auth %q: want required or off", cfg.Auth)
	}
	var secrets *plan.Secrets
	if cfg.Keyring != "" {
		var err error
		if secrets, err = plan.LoadSecrets(cfg.Keyring); err != nil {
			return nil, err
		}
	} else if !authOff {
		return nil, errors.New("--keyring FILE (or QUANTUM_KEYRING) is required unless --auth off")
	}
	trusted, err := policystore.LoadTrusted(cfg.Pubkeys, cfg.PolicyEncodings)
	if err != nil {
		return nil, err
	} else if trusted == nil {
		return nil, errors.New("--pubkey FILE (or QUANTUM_POLICY_PUBKEY) is required: without trusted policy keys every plan would be denied")
	}
	planVersions, err := canon.ParseVersions(cfg.PlanEncodings)
	if err != nil {
		return nil, fmt.Errorf("--plan-encodings %q: %w", cfg.PlanEncodings, err)
	}
	if secrets != nil {
		secrets = secrets.WithEncodings(planVersions)
		if planVersions.Has(canon.V1) {
			cfg.Log.Warn("plan encoding v1 accepted (--plan-encodings): only while producers move to v2", "plan_encodings", cfg.PlanEncodings)
		}
	}
	if !plan.ValidSource(cfg.ExitOwner) {
		return nil, fmt.Errorf("--exit-owner %q is not a source name", cfg.ExitOwner)
	}
	if cfg.MinReplicas < 0 {
		return nil, errors.New("--min-replicas / QUANTUM_MIN_REPLICAS: want a whole number of replicas, 0 or more")
	}
	venue, err := cfg.Venue.Open(ctx, cfg.Redis, cfg.Keys, cfg.Registerer, cfg.Log)
	if err != nil {
		return nil, err
	}
	var resultKey []byte
	if cfg.ResultKey != "" {
		if resultKey, err = plan.LoadResultKey(cfg.ResultKey); err != nil {
			return nil, err
		}
	}
	return NewApplyLayer(ApplyLayerOptions{
		ResultKey: resultKey, MinReplicas: cfg.MinReplicas, ReplicaWait: cfg.ReplicaWait,
		Redis: cfg.Redis, Keys: cfg.Keys, Venue: venue, Trusted: trusted, Secrets: secrets, AuthOff: authOff,
		ExitOwner: cfg.ExitOwner, BreakGlass: secretfile.SplitList(cfg.BreakGlass), ProofSource: cfg.ProofSource,
		Group: cfg.Group, Consumer: cfg.Consumer, Batch: cfg.Batch,
		ClaimIdle: cfg.ClaimIdle, RecordTTL: cfg.RecordTTL, Freshness: cfg.Freshness,
		Now: cfg.Now, Log: cfg.Log, Registerer: cfg.Registerer, Shadow: cfg.Shadow,
	})
}

// VenueConfig is the venue as --exchange, --paper-price, --paper-step and
// the Binance flags give it.
type VenueConfig struct {
	Kind   string   // VenuePaper or VenueBinance
	Prices []string // the paper venue's marks, SYMBOL=PRICE each
	Steps  []string // the paper venue's quantity steps, SYMBOL=STEP each
	// Retention is how long the paper venue holds an order
	// (--paper-order-retention); it may not be shorter than RecordTTL
	// (--record-ttl, 0: not checked), or the venue would forget orders
	// whose records can still replay them.
	Retention, RecordTTL time.Duration
	// Binance reads the adapter's settings and credentials; it is called
	// only for VenueBinance, after the paper flags are checked.
	Binance func() (binance.Config, error)
}

// Open parses the configuration and opens the venue (OpenVenue).
func (vc VenueConfig) Open(ctx context.Context, rdb redis.UniversalClient, ks keys.Space, reg prometheus.Registerer, log *slog.Logger) (exchange.Venue, error) {
	var err error
	vo := VenueOptions{Kind: vc.Kind, Redis: rdb, Keys: ks, Registerer: reg, Log: log, PaperPrices: map[string]string{}, PaperSteps: map[string]string{}}
	switch vc.Kind {
	case VenuePaper:
		for _, p := range vc.Prices {
			sym, price, err := paper.ParsePrice(p)
			if err != nil {
				return nil, fmt.Errorf("--paper-price: %w", err)
			}
			vo.PaperPrices[sym] = price
		}
		for _, s := range vc.Steps {
			sym, step, err := paper.ParseStep(s)
			if err != nil {
				return nil, fmt.Errorf("--paper-step: %w", err)
			}
			vo.PaperSteps[sym] = step
		}
		if vc.RecordTTL > 0 && vc.Retention < vc.RecordTTL {
			return nil, fmt.Errorf("--paper-order-retention %s is shorter than --record-ttl %s: the venue would forget orders whose records can still replay them", vc.Retention, vc.RecordTTL)
		}
		vo.PaperRetention = vc.Retention
	case VenueBinance:
		if len(vc.Prices) > 0 || len(vc.Steps) > 0 {
			return nil, errors.New("--paper-price and --paper-step apply to --exchange paper only: Binance has its own mark prices and exchangeInfo steps")
		}
		if vo.Binance, err = vc.Binance(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("--exchange %q: want paper or binance", vc.Kind)
	}
	return OpenVenue(ctx, vo)
}
