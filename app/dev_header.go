package app

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/quantumtrader/quantum/gate"
	"github.com/quantumtrader/quantum/keys"
)

// devHeader is what `quantum dev` keeps on screen above its summary: where
// it runs, the throwaway key paths and commands to try from another
// terminal, written to work as typed from the root of a fresh clone (go
// run ./cmd/quantum, no installed binary needed).
type devHeader struct {
	where     string // "embedded Redis (miniredis) on 127.0.0.1:6379"
	redisURL  string // for --redis, password included only if the user gave it
	cli       string // "redis-cli -p 6379" or "redis-cli -u URL"
	ks        keys.Space
	dir       string // the throwaway key directory
	pubPath   string
	realRedis bool // --redis: keys stay under the prefix on exit
}

// quantumCmd is how the printed commands run quantum.
const quantumCmd = "go run ./cmd/quantum"

func (h devHeader) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "quantum dev: %s, key prefix %q (Ctrl-C stops)\n", h.where, h.ks.Prefix())
	fmt.Fprintf(&b, "keys (throwaway, removed on exit): %s\n", h.dir)
	fmt.Fprintf(&b, "  policy.pub, policy.key; plan keys %s.key, %s.key, %s.key\n", SimEntry, gate.DefaultExitOwner, SimRogue)
	if h.realRedis {
		fmt.Fprintf(&b, "Redis keys under %s:* stay after exit (remove: %s --scan --pattern '%s:*' | xargs -r %s DEL)\n",
			h.ks.Prefix(), h.cli, h.ks.Prefix(), h.cli)
	}
	flags := fmt.Sprintf("--redis %s --prefix %s", h.redisURL, h.ks.Prefix())
	b.WriteString("Try from another terminal, in the repository's root:\n")
	fmt.Fprintf(&b, "  %s XREVRANGE %s + - COUNT 5\n", h.cli, h.ks.ApplyResult())
	fmt.Fprintf(&b, "  %s status %s --pubkey %s\n", quantumCmd, flags, h.pubPath)
	fmt.Fprintf(&b, "  %s policy verify %s --pubkey %s\n", quantumCmd, flags, h.pubPath)
	fmt.Fprintf(&b, "  %s plan send %s --key-file %s --symbol BTCUSDT --side BUY --qty 0.01 --wait 5s\n",
		quantumCmd, flags, filepath.Join(h.dir, SimEntry+".key"))
	fmt.Fprintf(&b, "    (EXECUTED; DENY_NOT_EXIT_OWNER while the simulator is short BTCUSDT: a BUY would close it, and only %s may)\n", gate.DefaultExitOwner)
	fmt.Fprintf(&b, "  %s HSET %s trading_state HALTED   # tamper: every plan is denied until the next refresh\n", h.cli, h.ks.PolicyCurrent())
	fmt.Fprintf(&b, "  %s paper set-price %s BTCUSDT=200000   # moves the mark: a short's loss past max_daily_loss_usdt 250 denies entries (DAILY_LOSS_LIMIT_REACHED), closes still execute\n", quantumCmd, flags)
	return b.String()
}

// redrawScreen is one terminal frame: clear the screen, home the cursor,
// the header, then the summary.
func redrawScreen(header string, summary []byte) []byte {
	out := make([]byte, 0, len(header)+len(summary)+16)
	out = append(out, "\x1b[H\x1b[2J"...)
	out = append(out, header...)
	out = append(out, '\n')
	return append(out, summary...)
}
