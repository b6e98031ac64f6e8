package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
	"github.com/quantumtrader/quantum/reason"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy show",
		Summary: "print the live policy's fields and whether it verifies",
		Help: `Prints every field of quantum:policy:current as stored. When trusted public keys
are configured (--pubkey or QUANTUM_POLICY_PUBKEY) it also verifies the policy
and prints the verdict; without them it says the signature was not checked.

Exit status: 0 when a policy is stored (verified or not), 1 when none is or
Redis cannot be read.`,
		Run: runPolicyShow,
	})
}

func runPolicyShow(ctx context.Context, c *cli.Invocation) int {
	pubkeys := c.FS.String("pubkey", c.Env.Getenv("QUANTUM_POLICY_PUBKEY"), "trusted public key `FILES`, comma-separated (env QUANTUM_POLICY_PUBKEY)")
	asJSON := c.FS.Bool("json", false, "print as JSON")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	store, closeStore, err := policyStore(c, nil, 0)
	if err != nil {
		return c.Errorf("%v", err)
	}
	defer closeStore()
	fields, err := store.Raw(ctx)
	if err != nil {
		return c.Errorf("%v", err)
	}
	if len(fields) == 0 {
		return c.Errorf("%s: no policy at %s", reason.PolicyMissing, c.Keys().PolicyCurrent())
	}
	verdict := map[string]any{"checked": false}
	verdictText := "not checked (no --pubkey or QUANTUM_POLICY_PUBKEY)"
	if len(secretfile.SplitList(*pubkeys)) > 0 {
		sp, err := loadVerified(ctx, c, *pubkeys, policystore.DefaultClockSkew)
		if err != nil {
			verdict = map[string]any{"checked": true, "ok": false, "reason": reason.CodeOf(err), "error": err.Error()}
			verdictText = "NO: " + err.Error()
		} else {
			remaining := sp.Remaining(c.Env.Clock()()).Truncate(time.Second)
			verdict = map[string]any{"checked": true, "ok": true, "key_id": sp.KeyID, "remaining_sec": int64(remaining / time.Second)}
			verdictText = fmt.Sprintf("yes: signed by key_id %s, valid for %s more", sp.KeyID, remaining)
		}
	}
	if *asJSON {
		return writeJSON(c.Env.Stdout, map[string]any{"key": c.Keys().PolicyCurrent(), "fields": fields, "verified": verdict})
	}
	tw := cli.Table(c.Env.Stdout)
	fmt.Fprintf(tw, "key\t%s\n", c.Keys().PolicyCurrent())
	for _, name := range sortedFieldNames(fields) {
		v := fields[name]
		if name == policy.FieldValidUntil || name == policy.FieldIssuedAt {
			if sec, err := parseEpoch(v); err == nil {
				v += "  (" + time.Unix(sec, 0).UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, v)
	}
	fmt.Fprintf(tw, "verified\t%s\n", verdictText)
	tw.Flush()
	return cli.ExitOK
}

// sortedFieldNames lists the six original fields first, then the rest in
// byte order.
func sortedFieldNames(fields map[string]string) []string {
	first := []string{policy.FieldVersion, policy.FieldUniverseSymbols, policy.FieldLeverageBySymbol,
		policy.FieldHarvestParams, policy.FieldKillParams, policy.FieldValidUntil}
	out := make([]string, 0, len(fields))
	seen := map[string]bool{}
	for _, n := range first {
		if _, ok := fields[n]; ok {
			out = append(out, n)
			seen[n] = true
		}
	}
	rest := make([]string, 0, len(fields))
	for n := range fields {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
