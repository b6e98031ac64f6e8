package producer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/quantumtrader/quantum/internal/secretfile"
	"github.com/quantumtrader/quantum/plan"
)

// LoadSigner reads a file holding one keyring line, SOURCE SECRET (its
// permissions checked: owner only), and returns the signer of that source.
func LoadSigner(path string) (Signer, error) {
	if err := secretfile.Check(path); err != nil {
		return Signer{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Signer{}, fmt.Errorf("key file: %w", err)
	}
	ring, err := plan.ParseSecrets(data)
	if err != nil {
		return Signer{}, fmt.Errorf("%s: %w", path, err)
	}
	sources := ring.Sources()
	if len(sources) != 1 {
		return Signer{}, fmt.Errorf("%s: want exactly one SOURCE SECRET line, found %d", path, len(sources))
	}
	secret, _ := ring.Secret(sources[0])
	return Signer{Source: sources[0], Secret: secret}, nil
}

// NewPlanID returns a fresh plan_id, <prefix>-<unix ms>-<8 hex digits>.
func NewPlanID(prefix string, now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", prefix, now.UnixMilli(), hex.EncodeToString(b))
}
