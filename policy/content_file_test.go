package policy_test

import (
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/policy"
)

// TestParseContentFilePositions: each kind of JSON mistake is reported
// with the file, line and column of the byte at fault.
func TestParseContentFilePositions(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"missing comma", "{\n  \"universe_symbols\": [\"BTCUSDT\"]\n  \"policy_version\": \"1\"\n}\n", `p.json:3:3: invalid character '"' after object key:value pair`},
		{"trailing comma", "{\n  \"universe_symbols\": [\"BTCUSDT\",]\n}", `p.json:2:34: invalid character ']'`},
		{"wrong type", "{\"policy_version\": \"1\",\n \"valid_until_epoch\": \"soon\"}", `p.json:2:`},
		{"unknown field", "{\n\n  \"policy_seq\": 3}", `p.json:3:3: json: unknown field "policy_seq"`},
		{"truncated", "{\n  \"universe_symbols\": [", `p.json:2:23: unexpected EOF`},
		{"trailing data", "{}\n{}", `p.json:2:1: trailing data`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ParseContentFile("p.json", strings.NewReader(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	_, err := policy.ParseContent(strings.NewReader("{\n ]"))
	if err == nil || !strings.Contains(err.Error(), "line 2 column 2") {
		t.Fatalf("without a name: %v", err)
	}
}
