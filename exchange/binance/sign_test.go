package binance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/quantumtrader/quantum/exchange/binance/binancereplay"
)

// TestSigningVector: the signature of the documentation's worked HMAC
// examples ("SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC
// Keys", docs_signing_example_hmac.json), byte for byte, with the key and
// secret of the docs.
func TestSigningVector(t *testing.T) {
	dir, err := binancereplay.Dir()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "docs_signing_example_hmac.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		APIKey    string `json:"apiKey"`
		SecretKey string `json:"secretKey"`
		Examples  []struct {
			Name        string `json:"name"`
			TotalParams string `json:"totalParams"`
			Signature   string `json:"signature"`
		} `json:"examples"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	creds, err := NewCredentials(v.APIKey, v.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Examples) < 2 {
		t.Fatalf("%d examples in the vector file, want 2", len(v.Examples))
	}
	for _, ex := range v.Examples {
		if got := creds.sign(ex.TotalParams); got != ex.Signature {
			t.Errorf("%s: signature %s, want the docs' %s", ex.Name, got, ex.Signature)
		}
	}
}
