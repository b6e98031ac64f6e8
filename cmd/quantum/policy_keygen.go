package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/quantumtrader/quantum/internal/cli"
	"github.com/quantumtrader/quantum/policy"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "policy keygen",
		Summary: "create an Ed25519 policy signing key pair",
		Help: `Writes DIR/policy.key (mode 0600: the refresh's signing key, QUANTUM_POLICY_KEY)
and DIR/policy.pub (the public key every reader trusts, QUANTUM_POLICY_PUBKEY),
as PEM (PKCS#8 and PKIX). Existing files are never overwritten. Prints the
key_id, the first 16 hex digits of the SHA-256 of the raw public key.`,
		Run: runPolicyKeygen,
	})
}

func runPolicyKeygen(ctx context.Context, c *cli.Invocation) int {
	out := c.FS.String("out", "", "`DIR` to write policy.key and policy.pub into (created 0700 if missing)")
	if code, ok := c.Parse(0); !ok {
		return code
	}
	if *out == "" {
		return configErr(c, errors.New("--out DIR is required"))
	}
	k, err := policy.GenerateKey()
	if err != nil {
		return c.Errorf("%v", err)
	}
	keyPath, pubPath, err := policy.WriteKeyPair(*out, k)
	if err != nil {
		return c.Errorf("%v", err)
	}
	fmt.Fprintf(c.Env.Stdout, "key_id      %s\nprivate key %s (mode 0600: keep it on the refresh host only)\npublic key  %s\n", k.KeyID(), keyPath, pubPath)
	return cli.ExitOK
}
