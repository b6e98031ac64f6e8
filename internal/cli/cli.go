// Package cli is the command framework of the quantum binary: the command
// tree and its help, the global flags and their environment variables,
// flags that default from the environment, the environment file, flag
// errors that name the fix, and what every command uses (its Redis client,
// logger, key namespace, error and usage output with SPEC.md's exit codes).
// The commands live in cmd/quantum.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/internal/texttable"
	"github.com/quantumtrader/quantum/keys"
)

// Exit codes shared by every command; some commands define more (SPEC.md).
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// Env is what a command may touch of the outside world. Tests fill it with
// buffers and a fake environment.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time // nil means time.Now
	// EnvFile is the environment file read when present and neither
	// --env-file nor QUANTUM_ENV_FILE names one (envfile.go):
	// defaultEnvFile for the binary, "" (none) in tests.
	EnvFile string
}

func (e *Env) Clock() func() time.Time {
	if e.Now != nil {
		return e.Now
	}
	return time.Now
}

// Command is one leaf of the Command tree, such as "policy publish".
type Command struct {
	Name    string // words after "quantum"
	Args    string // positional arguments, for the usage line
	Summary string // one line for `quantum help`
	Help    string // paragraphs for `quantum help NAME`
	// Run defines the command's flags on c.fs, calls c.parse, and works.
	Run func(ctx context.Context, c *Invocation) int
}

// commands lists every command; `quantum help` prints them in this order.
var commands []*Command

func Register(c *Command) { commands = append(commands, c) }

// Commands returns the registered commands, in registration order.
func Commands() []*Command { return append([]*Command(nil), commands...) }

// Globals are the options every command takes, before or after its name.
type Globals struct {
	RedisURL  string
	EnvFile   string // read before anything else by withEnvFile; kept for --help
	Prefix    string
	LogFormat string
	LogLevel  string
}

const DefaultRedisURL = "redis://127.0.0.1:6379/0"

func (g *Globals) fromEnv(getenv func(string) string) {
	g.RedisURL = EnvOr(getenv, "QUANTUM_REDIS_URL", DefaultRedisURL)
	g.Prefix = EnvOr(getenv, "QUANTUM_PREFIX", keys.DefaultPrefix)
	g.LogFormat = EnvOr(getenv, "QUANTUM_LOG_FORMAT", "text")
	g.LogLevel = EnvOr(getenv, "QUANTUM_LOG_LEVEL", "info")
}

func (g *Globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.EnvFile, "env-file", g.EnvFile, "environment `FILE` of NAME=value lines read under the environment (env QUANTUM_ENV_FILE; default "+DefaultEnvFile+" when it exists): what the units read, for commands in a shell")
	fs.StringVar(&g.RedisURL, "redis", g.RedisURL, "Redis `URL`: redis://[user:password@]host:port/db, rediss://..., unix:///path/redis.sock?db=0, redis+sentinel://[user:password@]host:port[,host:port...]/MASTER[/DB][?sentinel_password=P], redis+cluster://[user:password@]host:port[,host:port...] (needs --prefix '{quantum}') (env QUANTUM_REDIS_URL)")
	fs.StringVar(&g.Prefix, "prefix", g.Prefix, "key `prefix`: moves every key, for tests and scratch namespaces (env QUANTUM_PREFIX)")
	fs.StringVar(&g.LogFormat, "log-format", g.LogFormat, "log `format` on stderr: text for a terminal, json for machines (env QUANTUM_LOG_FORMAT)")
	fs.StringVar(&g.LogLevel, "log-level", g.LogLevel, "log `level`: debug, info, warn, error (env QUANTUM_LOG_LEVEL)")
}

// EnvInt is envOr for a non-negative integer variable; a set value that is
// not one gives -1, which the command refuses naming the variable (never a
// silent default).
func EnvInt(getenv func(string) string, name string, def int) int {
	v := getenv(name)
	if v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n
	}
	return -1
}

func EnvOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// Invocation is one run of a command: its flags, arguments and helpers.
type Invocation struct {
	Cmd   *Command
	Env   *Env
	G     Globals
	FS    *flag.FlagSet // the global flags are registered; the command adds its own
	raw   []string      // arguments after the command name
	Args  []string      // positional arguments, after parse
	setFl map[string]bool
}

// Parse parses the raw arguments, allowing flags after positional arguments
// ("publish FILE --key K"). It returns an exit code and false when the
// command must stop (help shown or a usage error).
func (c *Invocation) Parse(nargs int) (int, bool) {
	args := c.raw
	var pos []string
	for {
		if err := c.FS.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.Usage(c.Env.Stdout)
				return ExitOK, false
			}
			fmt.Fprintf(c.Env.Stderr, "quantum %s: %s\nRun 'quantum help %s' for usage.\n", c.Cmd.Name, describeFlagError(c.FS, c.raw, err), c.Cmd.Name)
			return ExitUsage, false
		}
		args = c.FS.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	c.Args = pos
	c.setFl = map[string]bool{}
	c.FS.Visit(func(f *flag.Flag) { c.setFl[f.Name] = true })
	if nargs >= 0 && len(pos) != nargs {
		fmt.Fprintf(c.Env.Stderr, "quantum %s: want %d argument(s) (%s), got %d\nRun 'quantum help %s' for usage.\n",
			c.Cmd.Name, nargs, c.Cmd.Args, len(pos), c.Cmd.Name)
		return ExitUsage, false
	}
	if _, err := keys.New(c.G.Prefix); err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum %s: %v\n", c.Cmd.Name, err)
		return ExitUsage, false
	}
	return ExitOK, true
}

// IsSet reports whether the flag was given on the command line.
func (c *Invocation) IsSet(name string) bool { return c.setFl[name] }

func (c *Invocation) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: quantum %s", c.Cmd.Name)
	if c.Cmd.Args != "" {
		fmt.Fprintf(w, " %s", c.Cmd.Args)
	}
	fmt.Fprintf(w, " [flags]\n\n%s\n", c.Cmd.Summary)
	if c.Cmd.Help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Cmd.Help))
	}
	fmt.Fprintln(w, "\nFlags:")
	c.FS.SetOutput(w)
	c.FS.PrintDefaults()
	c.FS.SetOutput(io.Discard)
}

// Keys returns the key namespace of --prefix (validated by parse).
func (c *Invocation) Keys() keys.Space { return keys.MustNew(c.G.Prefix) }

// Logger returns the slog Logger of --log-format and --log-level, on stderr.
func (c *Invocation) Logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.G.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.G.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(c.Env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(c.Env.Stderr, opts))
}

// Redis returns a client for --Redis (package redisconn: a single server,
// Sentinel or Cluster). Timeouts are short unless the URL sets them, so that
// a command facing a dead Redis fails in seconds, not minutes.
func (c *Invocation) Redis() (RedisClient, error) {
	return redisconn.Open(c.G.RedisURL, redisconn.Options{Prefix: c.G.Prefix})
}

func init() {
	// go-redis logs dial failures on its own; every failure reaches the
	// operator through the command's error instead, once and with a code.
	redis.SetLogger(discardRedisLog{})
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// RedisClient is what the commands hand to their services.
type RedisClient = redis.UniversalClient

// RedisBlocking returns a client for commands that block on streams: reads
// honour the context (so SIGTERM interrupts them) and the pool waits out
// Redis restarts instead of failing fast.
func (c *Invocation) RedisBlocking() (RedisClient, error) {
	return redisconn.Open(c.G.RedisURL, redisconn.Options{Prefix: c.G.Prefix, Blocking: true})
}

func (c *Invocation) Errorf(format string, args ...any) int {
	fmt.Fprintf(c.Env.Stderr, "quantum %s: %s\n", c.Cmd.Name, fmt.Sprintf(format, args...))
	return ExitFail
}

// UsageErr reports a usage error (a bad flag value, a missing option) and
// returns exitUsage.
func (c *Invocation) UsageErr(format string, args ...any) int {
	fmt.Fprintf(c.Env.Stderr, "quantum %s: %s\nRun 'quantum help %s' for usage.\n", c.Cmd.Name, fmt.Sprintf(format, args...), c.Cmd.Name)
	return ExitUsage
}

// Run is the whole program: it parses the global options, finds the
// command and runs it, returning the exit code.
func Run(ctx context.Context, args []string, e *Env) int {
	withFile, err := withEnvFile(e, args)
	if err != nil {
		fmt.Fprintf(e.Stderr, "quantum: %v\n", err)
		return ExitUsage
	}
	e = withFile
	var g Globals
	g.fromEnv(e.Getenv)
	root := flag.NewFlagSet("quantum", flag.ContinueOnError)
	root.SetOutput(io.Discard)
	g.register(root)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.Stdout)
			return ExitOK
		}
		fmt.Fprintf(e.Stderr, "quantum: %s\nRun 'quantum help' for usage.\n", describeFlagError(root, args, err))
		return ExitUsage
	}
	args = root.Args()
	if len(args) == 0 {
		printHelp(e.Stderr)
		return ExitUsage
	}
	if args[0] == "help" {
		return help(e, args[1:])
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		return unknown(e, args)
	}
	inv := &Invocation{Cmd: cmd, Env: e, G: g, raw: rest}
	inv.FS = flag.NewFlagSet("quantum "+cmd.Name, flag.ContinueOnError)
	inv.FS.SetOutput(io.Discard)
	inv.G.register(inv.FS)
	return cmd.Run(ctx, inv)
}

// lookup finds the longest command name made of the leading words of args.
func lookup(args []string) (*Command, []string) {
	for n := min(3, len(args)); n >= 1; n-- {
		name := strings.Join(args[:n], " ")
		for _, c := range commands {
			if c.Name == name {
				return c, args[n:]
			}
		}
	}
	return nil, nil
}

func unknown(e *Env, args []string) int {
	group := args[0]
	var sub []*Command
	for _, c := range commands {
		if strings.HasPrefix(c.Name, group+" ") {
			sub = append(sub, c)
		}
	}
	if len(sub) > 0 {
		if len(args) > 1 {
			fmt.Fprintf(e.Stderr, "quantum %s: unknown command %q\n\n", group, args[1])
		}
		fmt.Fprintf(e.Stderr, "Commands of 'quantum %s':\n", group)
		printCommands(e.Stderr, sub)
		return ExitUsage
	}
	fmt.Fprintf(e.Stderr, "quantum: unknown command %q\nRun 'quantum help' for the list of commands.\n", group)
	return ExitUsage
}

func help(e *Env, args []string) int {
	if len(args) == 0 {
		printHelp(e.Stdout)
		return ExitOK
	}
	cmd, rest := lookup(args)
	if cmd == nil || len(rest) > 0 {
		return unknown(e, args)
	}
	return Run(context.Background(), append(append([]string{}, args...), "--help"), e)
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `quantum: the Quantum Trader governance core.

Usage: quantum [global flags] COMMAND [flags] [arguments]

Commands:
`)
	printCommands(w, commands)
	fmt.Fprint(w, `
Global flags (accepted before or after the command):
  --env-file FILE      NAME=value settings under the environment (env QUANTUM_ENV_FILE,
                       default `+DefaultEnvFile+` when it exists)
  --redis URL          Redis URL (env QUANTUM_REDIS_URL, default `+DefaultRedisURL+`)
  --prefix P           key prefix (env QUANTUM_PREFIX, default quantum)
  --log-format F       text or json, on stderr (env QUANTUM_LOG_FORMAT)
  --log-level L        debug, info, warn, error (env QUANTUM_LOG_LEVEL)

Run 'quantum help COMMAND' for a command's flags. Operator docs: docs/.
`)
}

func printCommands(w io.Writer, cs []*Command) {
	sorted := append([]*Command{}, cs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	tw := texttable.New(w)
	for _, c := range sorted {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.Summary)
	}
	tw.Flush()
}

// Open opens path, or returns stdin for "-".
func (e *Env) Open(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(e.Stdin), nil
	}
	return os.Open(path)
}
