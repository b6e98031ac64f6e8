package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/producer"
	"github.com/redis/go-redis/v9"
)

// The simulated services of quantum dev.
const (
	SimEntry = "intent_bridge"
	SimRogue = "rogue_service"
)

// DevPrices are the paper venue's marks for the embedded policy's universe,
// and devQty an order size well under each symbol's notional cap.
var (
	DevPrices = map[string]string{"BTCUSDT": "65000", "ETHUSDT": "3500", "SOLUSDT": "150", "BNBUSDT": "600", "XRPUSDT": "0.6"}
	devQty    = map[string]string{"BTCUSDT": "0.01", "ETHUSDT": "0.1", "SOLUSDT": "1", "BNBUSDT": "0.5", "XRPUSDT": "100"}
)

// devSecrets makes a throwaway HMAC secret per simulated source and writes
// each as a key file (SOURCE HEX, mode 0600) in dir, for quantum plan send.
func devSecrets(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, src := range []string{SimEntry, gate.DefaultExitOwner, SimRogue} {
		line, err := plan.KeygenLine(src)
		if err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(strings.Fields(line)[1])
		if err != nil {
			return nil, err
		}
		out[src] = b
		if err := os.WriteFile(filepath.Join(dir, src+".key"), []byte(line+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write the %s key: %w", src, err)
		}
	}
	return out, nil
}

// simulator sends the demo traffic: the intent bridge opens positions,
// exitbrain_v3_5 closes them, and a rogue service tries what the gates
// must refuse. Every plan is signed with its claimed source's key except
// the spoofed and unsigned ones.
type simulator struct {
	rdb     redis.UniversalClient
	ks      keys.Space
	venue   *paper.Venue
	secrets map[string][]byte
	now     func() time.Time
	log     *slog.Logger
	rng     *rand.Rand
	n       int
}

// loop sends one plan every 1/rate seconds until ctx ends.
func (s *simulator) loop(ctx context.Context, rate float64) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.step(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("simulator: plan not sent", "error", err)
		}
	}
}

// step sends the next plan of a 10-step cycle: 4 entries, 2 owner exits,
// and 4 hostile plans (a reduceOnly close, an opposite-side close, a
// spoofed exit owner, an unsigned plan).
func (s *simulator) step(ctx context.Context) error {
	s.n++
	syms := slices.Sorted(maps.Keys(DevPrices))
	sym := syms[s.rng.IntN(len(syms))]
	pos, err := s.venue.Position(ctx, sym)
	if err != nil {
		return err
	}
	side, opposite := "BUY", "SELL"
	if pos < 0 || (pos == 0 && s.rng.IntN(2) == 0) {
		side, opposite = "SELL", "BUY"
	}
	closeQty := devQty[sym]
	if pos != 0 {
		closeQty = strconv.FormatFloat(abs(pos), 'f', -1, 64)
	}
	// source claimed, side, qty, reduceOnly, action, and the key that signs
	// it ("" for none).
	type shape struct{ source, side, qty, reduce, action, signer string }
	var sh shape
	switch s.n % 10 {
	case 0, 2, 4, 7: // entries, on the position's side (or a new one)
		sh = shape{SimEntry, side, devQty[sym], "false", "ENTRY_PROPOSED", SimEntry}
	case 3, 8: // the exit owner closes the position
		sh = shape{gate.DefaultExitOwner, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED", gate.DefaultExitOwner}
	case 1: // rogue: a reduceOnly close under its own name
		sh = shape{SimRogue, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED", SimRogue}
	case 5: // rogue: an opposite-side "entry" that closes the position
		sh = shape{SimRogue, opposite, closeQty, "false", "ENTRY_PROPOSED", SimRogue}
	case 6: // rogue: claims to be the exit owner, signs with its own key
		sh = shape{gate.DefaultExitOwner, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED", SimRogue}
	case 9: // rogue: no signature at all
		sh = shape{gate.DefaultExitOwner, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED", ""}
	}
	p := map[string]string{
		plan.FieldPlanID: fmt.Sprintf("dev-%d-%d", s.now().UnixNano(), s.n), plan.FieldDecision: string(plan.Execute),
		plan.FieldSymbol: sym, plan.FieldType: string(market.Market), plan.FieldTimestamp: strconv.FormatInt(s.now().Unix(), 10),
		plan.FieldSource: sh.source, plan.FieldSide: sh.side, plan.FieldQty: sh.qty, plan.FieldReduceOnly: sh.reduce,
		plan.FieldAction: sh.action,
	}
	signer := sh.signer
	if signer != "" {
		p = plan.SignFields(p, s.secrets[signer])
	}
	_, err = producer.Send(ctx, s.rdb, s.ks, p)
	return err
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
