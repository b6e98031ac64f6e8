package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/applylayer"
	"github.com/quantumtrader/quantum/exchange/paper"
	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/plan"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/status"
)

// The simulated services of quantum dev.
const (
	simEntry = "intent_bridge"
	simRogue = "rogue_service"
)

// devPrices are the paper venue's marks for the embedded policy's universe,
// and devQty an order size well under each symbol's notional cap.
var (
	devPrices = map[string]string{"BTCUSDT": "65000", "ETHUSDT": "3500", "SOLUSDT": "150", "BNBUSDT": "600", "XRPUSDT": "0.6"}
	devQty    = map[string]string{"BTCUSDT": "0.01", "ETHUSDT": "0.1", "SOLUSDT": "1", "BNBUSDT": "0.5", "XRPUSDT": "100"}
)

// devSecrets makes a throwaway HMAC secret per simulated source and writes
// each as a key file (SOURCE HEX, mode 0600) in dir, for quantum plan send.
func devSecrets(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, src := range []string{simEntry, gate.DefaultExitOwner, simRogue} {
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

// startDevApplyLayer runs an apply-layer consumer on the paper venue in the
// background and waits until it consumes. stop ends it and waits.
func startDevApplyLayer(ctx context.Context, rdb redisClient, store *policystore.Store, venue *paper.Venue, secrets map[string][]byte, log *slog.Logger, now func() time.Time) (stop func(), err error) {
	svc, err := applylayer.New(rdb, store, venue, applylayer.Config{
		Keys: store.Keys(), Consumer: "dev", Block: 200 * time.Millisecond,
		Keyring: plan.NewSecrets(secrets), Gate: gate.Config{ExitOwner: gate.DefaultExitOwner},
		Now: now, Log: log,
	})
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	stop = background(ctx, func(ctx context.Context) {
		if err := svc.Run(ctx, func() { close(ready) }); err != nil && ctx.Err() == nil {
			log.Error("apply layer stopped", "error", err)
		}
	})
	select {
	case <-ready:
		return stop, nil
	case <-time.After(10 * time.Second):
		stop()
		return nil, fmt.Errorf("the apply layer did not start within 10s")
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// simulator sends the demo traffic: the intent bridge opens positions,
// exitbrain_v3_5 closes them, and a rogue service tries what the gates
// must refuse. Every plan is signed with its claimed source's key except
// the spoofed and unsigned ones.
type simulator struct {
	rdb     redisClient
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
	syms := slices.Sorted(maps.Keys(devPrices))
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
	p := map[string]string{
		"plan_id": fmt.Sprintf("dev-%d-%d", s.now().UnixNano(), s.n), "decision": "EXECUTE", "symbol": sym,
		"type": "MARKET", "timestamp": strconv.FormatInt(s.now().Unix(), 10),
	}
	signer := ""
	switch s.n % 10 {
	case 0, 2, 4, 7: // entries, on the position's side (or a new one)
		p["source"], p["side"], p["qty"], p["reduceOnly"], p["action"] = simEntry, side, devQty[sym], "false", "ENTRY_PROPOSED"
		signer = simEntry
	case 3, 8: // the exit owner closes the position
		p["source"], p["side"], p["qty"], p["reduceOnly"], p["action"] = gate.DefaultExitOwner, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED"
		signer = gate.DefaultExitOwner
	case 1: // rogue: a reduceOnly close under its own name
		p["source"], p["side"], p["qty"], p["reduceOnly"], p["action"] = simRogue, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED"
		signer = simRogue
	case 5: // rogue: an opposite-side "entry" that closes the position
		p["source"], p["side"], p["qty"], p["reduceOnly"], p["action"] = simRogue, opposite, closeQty, "false", "ENTRY_PROPOSED"
		signer = simRogue
	case 6: // rogue: claims to be the exit owner, signs with its own key
		p["source"], p["side"], p["qty"], p["reduceOnly"], p["action"] = gate.DefaultExitOwner, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED"
		signer = simRogue
	case 9: // rogue: no signature at all
		p["source"], p["side"], p["qty"], p["reduceOnly"], p["action"] = gate.DefaultExitOwner, opposite, closeQty, "true", "FULL_CLOSE_PROPOSED"
	}
	if signer != "" {
		p = plan.SignFields(p, s.secrets[signer])
	}
	vals := make([]any, 0, 2*len(p))
	for _, k := range slices.Sorted(maps.Keys(p)) {
		vals = append(vals, k, p[k])
	}
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.ks.ApplyPlan(), Values: vals}).Err()
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// devSummary is the live one-screen summary of quantum dev.
type devSummary struct {
	rdb     redisClient
	store   *policystore.Store
	venue   *paper.Venue
	ring    *policy.TrustedKeys
	now     func() time.Time
	started time.Time
}

// render writes one summary block.
func (d *devSummary) render(ctx context.Context, w io.Writer) error {
	now := d.now()
	window := max(now.Sub(d.started)+time.Minute, time.Minute)
	rep, err := status.Collect(ctx, d.rdb, status.Options{Keys: d.store.Keys(), Keyring: d.ring, Now: d.now, Window: min(window, status.DefaultWindow)})
	if err != nil {
		return err
	}
	positions, err := d.venue.Positions(ctx)
	if err != nil {
		return err
	}
	tw := table(w)
	fmt.Fprintf(tw, "=== quantum dev summary %s\n", now.UTC().Format("15:04:05"))
	fmt.Fprintf(tw, "verdict\t%s\n", verdictLine(ctx, d.store, now))
	p := rep.Policy
	fmt.Fprintf(tw, "policy\tseq %d  age %s  remaining %s  signature %s\n", p.Seq, secs(p.AgeSec), secs(p.RemainingSec), p.Signature)
	fmt.Fprintf(tw, "plans\t%d%s\n", rep.Results.Total, counts(rep.Results.ByDecision))
	fmt.Fprintf(tw, "denials\t%s\n", cmpOr(strings.TrimPrefix(counts(rep.Results.Denials), ": "), "none"))
	if len(rep.Alerts) == 0 {
		fmt.Fprintf(tw, "alerts\tnone firing\n")
	}
	for i, a := range rep.Alerts {
		label := map[bool]string{true: "alerts"}[i == 0]
		fmt.Fprintf(tw, "%s\t%s %s %s deny_count=%s\n", label, a.Type, a.Status, a.AlertID, a.Fields["deny_count"])
	}
	var ps []string
	for _, q := range positions {
		if q.Amount != "0" {
			ps = append(ps, q.Symbol+" "+q.Amount)
		}
	}
	fmt.Fprintf(tw, "positions\t%s\n", cmpOr(strings.Join(ps, ", "), "flat"))
	fmt.Fprintf(tw, "apply layer\t%d consumer(s), %d plan(s) pending\n", len(rep.Group.Consumers), rep.Group.Pending)
	fmt.Fprintln(tw, "===")
	return tw.Flush()
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
