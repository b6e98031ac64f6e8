package cli

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteJSON(t *testing.T) {
	var b strings.Builder
	if code := WriteJSON(&b, map[string]any{"a": 1, "b": []int{}}); code != ExitOK || b.String() != "{\n  \"a\": 1,\n  \"b\": []\n}\n" {
		t.Fatalf("exit %d, %q", code, b.String())
	}
	if err := EncodeJSON(failWriter{}, 1); err == nil {
		t.Fatal("EncodeJSON to a writer that fails: no error")
	}
	if code := WriteJSON(failWriter{}, 1); code != ExitFail {
		t.Fatalf("a write that fails: exit %d, want %d", code, ExitFail)
	}
}

func TestDefaultActor(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	env := func(user string) *Env {
		return &Env{Getenv: func(k string) string { return map[string]string{"USER": user}[k] }}
	}
	if got := DefaultActor(env("alice")); got != "alice@"+host {
		t.Errorf("USER=alice: %q, want alice@%s", got, host)
	}
	if got := DefaultActor(env("")); got != "unknown@"+host {
		t.Errorf("no USER: %q, want unknown@%s", got, host)
	}
}

func TestStringList(t *testing.T) {
	s := StringList{"A=1"}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&s, "p", "")
	if err := fs.Parse([]string{"-p", "B=2", "-p", "C=3"}); err != nil {
		t.Fatal(err)
	}
	if s.String() != "A=1,B=2,C=3" || len(s) != 3 {
		t.Fatalf("%q", s.String())
	}
}
