package app

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/status"
	"github.com/quantumtrader/quantum/watch"
)

// DevScreen is how `quantum dev` shows the running system (Dev.Show).
type DevScreen struct {
	Out io.Writer
	// Term: Out is a terminal; the summary is redrawn every SummaryEvery
	// under the header. Else the summary is printed as a block every
	// SummaryEvery, and the live policy checked every CheckEvery, a line
	// printed whenever the verdict changes.
	Term         bool
	CheckEvery   time.Duration
	SummaryEvery time.Duration
	// RedisURL is the --redis URL the Dev runs on, "" for the embedded
	// server.
	RedisURL string
}

// Show prints the banner (the header, the signing key, the published
// policy, what runs) and then the summary and verdict lines until ctx is
// done, ending with "quantum dev: stopped".
func (d *Dev) Show(ctx context.Context, s DevScreen) {
	opt := d.opt
	h := devHeader{where: "embedded Redis (miniredis) on " + d.Addr, redisURL: "redis://" + d.Addr + "/0",
		cli: "redis-cli -p " + d.Addr[strings.LastIndex(d.Addr, ":")+1:], ks: d.Keys, dir: d.Dir, pubPath: d.PubPath}
	if s.RedisURL != "" {
		h.where, h.redisURL, h.cli, h.realRedis = "Redis at "+redisconn.Redact(s.RedisURL), s.RedisURL, "redis-cli -u "+s.RedisURL, true
	}
	refreshLine := "off (--refresh-interval 0)"
	if opt.RefreshEvery > 0 {
		refreshLine = fmt.Sprintf("every %s by the in-process refresh loop (quantum policy audit shows each run)", opt.RefreshEvery)
	}
	watchLine := "off (--watch-interval 0)"
	if opt.WatchEvery > 0 {
		watchLine = fmt.Sprintf("every %s by the in-process exit-owner watch (heartbeat %s)", opt.WatchEvery, d.Keys.Heartbeat(watch.JobTimer))
	}
	trafficLine := "off (--rate 0)"
	if opt.Rate > 0 {
		trafficLine = fmt.Sprintf("%g plans/s: %s opens, %s closes, %s tries reduceOnly and opposite-side closes, a spoofed %s and unsigned plans",
			opt.Rate, SimEntry, gate.DefaultExitOwner, SimRogue, gate.DefaultExitOwner)
	}
	header := h.String()
	sp, out, now := d.Policy, s.Out, opt.Now
	fmt.Fprintf(out, `%s
signing key  %s
published    policy_version=%s policy_seq=%d policy_hash=%s
refreshed    %s
watched      %s
apply layer  consumer "dev" of group apply_layer, paper venue (prices %s)
traffic      %s

Live policy verdict, as the apply layer would see it:
`, header, d.KeyPath, sp.Version, sp.Seq, sp.Hash, refreshLine, watchLine, PriceList(), trafficLine)

	started := now()
	last := ""
	tick := time.NewTicker(s.CheckEvery)
	defer tick.Stop()
	sumTick := time.NewTicker(s.SummaryEvery)
	defer sumTick.Stop()
	for {
		if !s.Term {
			line := d.verdict(ctx, now())
			if line != last {
				fmt.Fprintf(out, "%s %s\n", now().UTC().Format("15:04:05"), line)
				last = line
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "quantum dev: stopped")
			return
		case <-tick.C:
		case <-sumTick.C:
			var b bytes.Buffer
			if err := d.summary(ctx, &b, started); err != nil {
				if ctx.Err() != nil {
					continue
				}
				fmt.Fprintf(&b, "summary: could not read: %v\n", err)
			}
			if s.Term { // one screen, redrawn, the header kept on top
				out.Write(redrawScreen(header, b.Bytes()))
			} else {
				out.Write(b.Bytes())
			}
		}
	}
}

// verdict is the live policy's verdict, as the apply layer would see it.
func (d *Dev) verdict(ctx context.Context, now time.Time) string {
	sp, err := d.Store.Load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "stopping"
		}
		return fmt.Sprintf("DENY-ALL %s", err)
	}
	return fmt.Sprintf("OK policy_seq=%d trading_state=%s valid for %s", sp.Seq, sp.TradingState,
		sp.Remaining(now).Truncate(time.Minute))
}

// summary writes one block of the live summary: the results since started
// (at most status.DefaultWindow), the policy, the alerts firing, the
// positions and the apply layer's group.
func (d *Dev) summary(ctx context.Context, w io.Writer, started time.Time) error {
	now := d.opt.Now()
	window := max(now.Sub(started)+time.Minute, time.Minute)
	rep, err := status.Collect(ctx, d.Redis, status.Options{Keys: d.Store.Keys(), Keyring: d.Trusted, Now: d.opt.Now, Window: min(window, status.DefaultWindow), AllowUnsafeRedis: true})
	if err != nil {
		return err
	}
	positions, err := d.Venue.Positions(ctx)
	if err != nil {
		return err
	}
	tw := texttable.New(w)
	fmt.Fprintf(tw, "=== quantum dev summary %s\n", now.UTC().Format("15:04:05"))
	fmt.Fprintf(tw, "verdict\t%s\n", d.verdict(ctx, now))
	p := rep.Policy
	fmt.Fprintf(tw, "policy\tseq %d  age %s  remaining %s  signature %s\n", p.Seq, status.Seconds(p.AgeSec), status.Seconds(p.RemainingSec), p.Signature)
	fmt.Fprintf(tw, "plans\t%d%s\n", rep.Results.Total, status.Counts(rep.Results.ByDecision))
	fmt.Fprintf(tw, "denials\t%s\n", cmp.Or(strings.TrimPrefix(status.Counts(rep.Results.Denials), ": "), "none"))
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
	fmt.Fprintf(tw, "positions\t%s\n", cmp.Or(strings.Join(ps, ", "), "flat"))
	fmt.Fprintf(tw, "apply layer\t%d consumer(s), %d plan(s) pending\n", len(rep.Group.Consumers), rep.Group.Pending)
	fmt.Fprintln(tw, "===")
	return tw.Flush()
}
