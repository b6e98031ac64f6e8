package cli

import (
	"encoding/json"
	"io"
	"os"
	"strings"
)

// WriteJSON writes v to w as indented JSON, as every --json prints;
// ExitFail when it cannot be written.
func WriteJSON(w io.Writer, v any) int {
	if err := EncodeJSON(w, v); err != nil {
		return ExitFail
	}
	return ExitOK
}

// EncodeJSON is WriteJSON returning the error.
func EncodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// DefaultActor is who runs a command, for an audit trail: USER@hostname
// ("unknown" and "unknown-host" when either cannot be told).
func DefaultActor(e *Env) string {
	user := e.Getenv("USER")
	if user == "" {
		user = "unknown"
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return user + "@" + host
}

// StringList is a repeatable flag: each use appends its value.
type StringList []string

func (s *StringList) String() string     { return strings.Join(*s, ",") }
func (s *StringList) Set(v string) error { *s = append(*s, v); return nil }
