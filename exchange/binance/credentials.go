package binance

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/internal/secretfile"
)

// Environment variables of the credentials (one name per setting across
// every command, SPEC.md). A value comes from the variable itself or from
// the file the _FILE variable (or a flag) names; never from a flag value,
// which ps(1) would show.
const (
	EnvAPIKey         = "QUANTUM_BINANCE_API_KEY"
	EnvAPIKeyFile     = "QUANTUM_BINANCE_API_KEY_FILE"
	EnvAPISecret      = "QUANTUM_BINANCE_API_SECRET"
	EnvAPISecretFile  = "QUANTUM_BINANCE_API_SECRET_FILE"
	redacted          = "[redacted]"
	maxCredentialSize = 4096
)

// Credentials are an API key and its secret. They format as "[redacted]"
// with every verb and in slog, so that logging a Config or wrapping one in
// an error cannot leak them.
type Credentials struct {
	APIKey string
	secret []byte
}

// NewCredentials returns credentials from the key and secret text.
func NewCredentials(apiKey, secret string) (Credentials, error) {
	apiKey, secret = strings.TrimSpace(apiKey), strings.TrimSpace(secret)
	if apiKey == "" || secret == "" {
		return Credentials{}, errors.New("binance: the API key and the API secret are both required")
	}
	if strings.ContainsAny(apiKey+secret, " \t\r\n") {
		return Credentials{}, errors.New("binance: the API key or secret holds white space")
	}
	return Credentials{APIKey: apiKey, secret: []byte(secret)}, nil
}

// Settings are the adapter's operator settings, as apply-layer's and
// exchange check's --binance-* flags give them: the base URL or an
// environment name (ResolveURL), the key and secret files ("": their _FILE
// variables, or the values in the environment) and the per-request
// timeout.
type Settings struct {
	URL, KeyFile, SecretFile string
	Timeout                  time.Duration
}

// Config loads the credentials (LoadCredentials) and resolves the URL.
func (s Settings) Config(getenv func(string) string, now func() time.Time, log *slog.Logger) (Config, error) {
	creds, err := LoadCredentials(getenv, s.KeyFile, s.SecretFile)
	if err != nil {
		return Config{}, err
	}
	return Config{BaseURL: ResolveURL(s.URL), Credentials: creds, Timeout: s.Timeout, Now: now, Log: log}, nil
}

// LoadCredentials reads the key and the secret, each from its variable or
// from a file (keyFile and secretFile override the _FILE variables). A
// file must be readable by its owner only (secretfile.Check). Giving
// both a variable and a file for one value is an error: which one wins
// would be a guess.
func LoadCredentials(getenv func(string) string, keyFile, secretFile string) (Credentials, error) {
	if keyFile == "" {
		keyFile = getenv(EnvAPIKeyFile)
	}
	if secretFile == "" {
		secretFile = getenv(EnvAPISecretFile)
	}
	key, err := credential(getenv(EnvAPIKey), EnvAPIKey, keyFile, "API key")
	if err != nil {
		return Credentials{}, err
	}
	secret, err := credential(getenv(EnvAPISecret), EnvAPISecret, secretFile, "API secret")
	if err != nil {
		return Credentials{}, err
	}
	return NewCredentials(key, secret)
}

func credential(value, variable, file, what string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("binance: %s given both in %s and in file %s: give one", what, variable, file)
	case value != "":
		return value, nil
	case file == "":
		return "", fmt.Errorf("binance: no %s: set %s or %s_FILE (a file of mode 0600)", what, variable, variable)
	}
	if err := secretfile.Check(file); err != nil {
		return "", fmt.Errorf("binance: %s: %w", what, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		// The path is ours to show; the content never is.
		return "", fmt.Errorf("binance: %s: read %s: %w", what, file, errors.Unwrap(err))
	}
	if len(data) > maxCredentialSize {
		return "", fmt.Errorf("binance: %s file %s is larger than %d bytes", what, file, maxCredentialSize)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("binance: %s file %s is empty", what, file)
	}
	return s, nil
}

func (k Credentials) empty() bool { return k.APIKey == "" || len(k.secret) == 0 }

// String redacts.
func (k Credentials) String() string { return redacted }

// GoString redacts (%#v).
func (k Credentials) GoString() string { return redacted }

// Format redacts with every verb.
func (k Credentials) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// LogValue redacts in slog.
func (k Credentials) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText redacts in JSON and text encodings.
func (k Credentials) MarshalText() ([]byte, error) { return []byte(redacted), nil }
