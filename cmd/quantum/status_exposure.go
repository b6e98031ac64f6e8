package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/status"
)

// printExposure writes the exposure lines of quantum status, if any.
func printExposure(tw *tabwriter.Writer, e *status.Exposure) {
	if e == nil {
		return
	}
	limit := func(field string) string { return cmpOr(e.Limits[field], "none") }
	s := e.Snapshot
	if s == nil {
		fmt.Fprintf(tw, "exposure\tno entry decided under the limits yet (gross max %s, open max %s, daily loss max %s)\n",
			limit(policy.FieldMaxGrossExposure), limit(policy.FieldMaxOpenPositions), limit(policy.FieldMaxDailyLoss))
		return
	}
	var parts []string
	for _, sym := range slices.Sorted(maps.Keys(s.BySymbol)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", sym, s.BySymbol[sym]))
	}
	fmt.Fprintf(tw, "exposure\tas of %s ago (%s, deciding %s): %s\n", secs(e.AgeSec), s.Consumer, s.Symbol, cmpOr(strings.Join(parts, ", "), "flat"))
	if caps := e.Limits[policy.FieldMaxPositionNotional]; caps != "" {
		fmt.Fprintf(tw, "\tposition caps %s\n", caps)
	}
	gross, open, pnl := "not read", "not read", "not read"
	if s.GrossRead {
		gross, open = fmt.Sprintf("%.2f", s.GrossUSDT), fmt.Sprint(s.Open)
	}
	if s.PnLRead {
		pnl = fmt.Sprintf("%.2f", s.DayPnLUSDT)
	}
	fmt.Fprintf(tw, "\tgross %s USDT (max %s)  open positions %s (max %s)  day PnL %s USDT (max loss %s)  reserved entries %d\n",
		gross, limit(policy.FieldMaxGrossExposure), open, limit(policy.FieldMaxOpenPositions), pnl, limit(policy.FieldMaxDailyLoss), e.Reserved)
}
