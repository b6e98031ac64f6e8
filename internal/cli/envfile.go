package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// DefaultEnvFile is the environment file every unit reads
// (EnvironmentFile=); operator commands in a shell read it too, so that
// `quantum status` there sees what the units see.
const DefaultEnvFile = "/etc/quantum/quantum.env"

// envFileArg returns the --env-file given among args (before the command
// or after it), and whether one was.
func envFileArg(args []string) (string, bool) {
	for i, a := range args {
		switch {
		case a == "--env-file" || a == "-env-file":
			if i+1 < len(args) {
				return args[i+1], true
			}
			return "", true
		case strings.HasPrefix(a, "--env-file="), strings.HasPrefix(a, "-env-file="):
			return a[strings.Index(a, "=")+1:], true
		case a == "--":
			return "", false
		}
	}
	return "", false
}

// withEnvFile returns e with its getenv reading the environment file under
// the process environment: a variable set in the environment wins (a unit's
// own EnvironmentFile, or an operator's QUANTUM_REDIS_URL=... quantum ...),
// then the file's, so a flag still overrides both. The file is --env-file,
// else $QUANTUM_ENV_FILE, else e.envFile (defaultEnvFile for the binary,
// none in tests) when it exists. An --env-file or QUANTUM_ENV_FILE that
// cannot be read is an error; the default one is skipped with a note on
// stderr when it exists but is unreadable (an operator outside group
// quantum).
func withEnvFile(e *Env, args []string) (*Env, error) {
	path, explicit := envFileArg(args)
	if !explicit {
		if path = e.Getenv("QUANTUM_ENV_FILE"); path != "" {
			explicit = true
		}
	}
	if !explicit {
		path = e.EnvFile
	}
	if path == "" {
		return e, nil
	}
	vars, err := readEnvFile(path)
	if err != nil {
		if !explicit {
			if !errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(e.Stderr, "quantum: %v: its settings are not used (--env-file FILE to name another)\n", err)
			}
			return e, nil
		}
		return nil, err
	}
	out := *e
	outer := e.Getenv
	out.Getenv = func(k string) string {
		if v := outer(k); v != "" {
			return v
		}
		return vars[k]
	}
	return &out, nil
}

// readEnvFile reads systemd EnvironmentFile syntax: NAME=value lines,
// # and ; comments, blank lines; quotes around a whole value are stripped.
// Values are never echoed in an error (the file may hold a password).
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("environment file: %w", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("environment file %s:%d: want NAME=value", path, n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[name] = value
	}
	return vars, sc.Err()
}
