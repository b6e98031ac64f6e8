package main

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
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/internal/redisconn"
	"github.com/quantumtrader/quantum/keys"
	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/policystore"
)

// Exit codes shared by every command; some commands define more (SPEC.md).
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// env is what a command may touch of the outside world. Tests fill it with
// buffers and a fake environment.
type env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time // nil means time.Now
	// EnvFile is the environment file read when present and neither
	// --env-file nor QUANTUM_ENV_FILE names one (envfile.go):
	// defaultEnvFile for the binary, "" (none) in tests.
	EnvFile string
}

func (e *env) Clock() func() time.Time {
	if e.Now != nil {
		return e.Now
	}
	return time.Now
}

// command is one leaf of the command tree, such as "policy publish".
type command struct {
	Name    string // words after "quantum"
	Args    string // positional arguments, for the usage line
	Summary string // one line for `quantum help`
	Help    string // paragraphs for `quantum help NAME`
	// Run defines the command's flags on c.fs, calls c.parse, and works.
	Run func(ctx context.Context, c *invocation) int
}

// commands lists every command; `quantum help` prints them in this order.
var commands []*command

func register(c *command) { commands = append(commands, c) }

// globals are the options every command takes, before or after its name.
type globals struct {
	RedisURL  string
	EnvFile   string // read before anything else by withEnvFile; kept for --help
	Prefix    string
	LogFormat string
	LogLevel  string
}

const defaultRedisURL = "redis://127.0.0.1:6379/0"

func (g *globals) fromEnv(getenv func(string) string) {
	g.RedisURL = envOr(getenv, "QUANTUM_REDIS_URL", defaultRedisURL)
	g.Prefix = envOr(getenv, "QUANTUM_PREFIX", keys.DefaultPrefix)
	g.LogFormat = envOr(getenv, "QUANTUM_LOG_FORMAT", "text")
	g.LogLevel = envOr(getenv, "QUANTUM_LOG_LEVEL", "info")
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.EnvFile, "env-file", g.EnvFile, "environment `FILE` of NAME=value lines read under the environment (env QUANTUM_ENV_FILE; default "+defaultEnvFile+" when it exists): what the units read, for commands in a shell")
	fs.StringVar(&g.RedisURL, "redis", g.RedisURL, "Redis `URL`: redis://[user:password@]host:port/db, rediss://..., unix:///path/redis.sock?db=0, redis+sentinel://[user:password@]host:port[,host:port...]/MASTER[/DB][?sentinel_password=P], redis+cluster://[user:password@]host:port[,host:port...] (needs --prefix '{quantum}') (env QUANTUM_REDIS_URL)")
	fs.StringVar(&g.Prefix, "prefix", g.Prefix, "key `prefix`: moves every key, for tests and scratch namespaces (env QUANTUM_PREFIX)")
	fs.StringVar(&g.LogFormat, "log-format", g.LogFormat, "log `format` on stderr: text for a terminal, json for machines (env QUANTUM_LOG_FORMAT)")
	fs.StringVar(&g.LogLevel, "log-level", g.LogLevel, "log `level`: debug, info, warn, error (env QUANTUM_LOG_LEVEL)")
}

// envInt is envOr for a non-negative integer variable; a set value that is
// not one gives -1, which the command refuses naming the variable (never a
// silent default).
func envInt(getenv func(string) string, name string, def int) int {
	v := getenv(name)
	if v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n
	}
	return -1
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// invocation is one run of a command: its flags, arguments and helpers.
type invocation struct {
	Cmd   *command
	Env   *env
	G     globals
	FS    *flag.FlagSet // the global flags are registered; the command adds its own
	raw   []string      // arguments after the command name
	Args  []string      // positional arguments, after parse
	setFl map[string]bool
}

// Parse parses the raw arguments, allowing flags after positional arguments
// ("publish FILE --key K"). It returns an exit code and false when the
// command must stop (help shown or a usage error).
func (c *invocation) Parse(nargs int) (int, bool) {
	args := c.raw
	var pos []string
	for {
		if err := c.FS.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.Usage(c.Env.Stdout)
				return exitOK, false
			}
			fmt.Fprintf(c.Env.Stderr, "quantum %s: %s\nRun 'quantum help %s' for usage.\n", c.Cmd.Name, describeFlagError(c.FS, c.raw, err), c.Cmd.Name)
			return exitUsage, false
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
		return exitUsage, false
	}
	if _, err := keys.New(c.G.Prefix); err != nil {
		fmt.Fprintf(c.Env.Stderr, "quantum %s: %v\n", c.Cmd.Name, err)
		return exitUsage, false
	}
	return exitOK, true
}

// IsSet reports whether the flag was given on the command line.
func (c *invocation) IsSet(name string) bool { return c.setFl[name] }

func (c *invocation) Usage(w io.Writer) {
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
func (c *invocation) Keys() keys.Space { return keys.MustNew(c.G.Prefix) }

// Logger returns the slog Logger of --log-format and --log-level, on stderr.
func (c *invocation) Logger() *slog.Logger {
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
func (c *invocation) Redis() (redisClient, error) {
	return redisconn.Open(c.G.RedisURL, redisconn.Options{Prefix: c.G.Prefix})
}

func init() {
	// go-redis logs dial failures on its own; every failure reaches the
	// operator through the command's error instead, once and with a code.
	redis.SetLogger(discardRedisLog{})
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// policyStore returns a store over a new Redis client for --redis and
// --prefix, trusting ring (nil for commands that only read raw fields or
// publish-check with their own), and a function that closes the client.
func (c *invocation) policyStore(ring *policy.TrustedKeys, skew time.Duration) (*policystore.Store, func(), error) {
	rdb, err := c.Redis()
	if err != nil {
		return nil, nil, err
	}
	store, err := policystore.New(rdb, policystore.Options{Keys: c.Keys(), Keyring: ring, Now: c.Env.Clock(), ClockSkew: skew})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return store, func() { rdb.Close() }, nil
}

// redisClient is what the commands hand to their services.
type redisClient = redis.UniversalClient

// RedisBlocking returns a client for commands that block on streams: reads
// honour the context (so SIGTERM interrupts them) and the pool waits out
// Redis restarts instead of failing fast.
func (c *invocation) RedisBlocking() (redisClient, error) {
	return redisconn.Open(c.G.RedisURL, redisconn.Options{Prefix: c.G.Prefix, Blocking: true})
}

// redactURL hides the password of a Redis URL, for messages and logs.
func redactURL(s string) string { return redisconn.Redact(s) }

func (c *invocation) Errorf(format string, args ...any) int {
	fmt.Fprintf(c.Env.Stderr, "quantum %s: %s\n", c.Cmd.Name, fmt.Sprintf(format, args...))
	return exitFail
}

// UsageErr reports a usage error (a bad flag value, a missing option) and
// returns exitUsage.
func (c *invocation) UsageErr(format string, args ...any) int {
	fmt.Fprintf(c.Env.Stderr, "quantum %s: %s\nRun 'quantum help %s' for usage.\n", c.Cmd.Name, fmt.Sprintf(format, args...), c.Cmd.Name)
	return exitUsage
}

// table returns a tabwriter for aligned text output.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// run is the whole program: it parses the global options, finds the
// command and runs it, returning the exit code.
func run(ctx context.Context, args []string, e *env) int {
	withFile, err := withEnvFile(e, args)
	if err != nil {
		fmt.Fprintf(e.Stderr, "quantum: %v\n", err)
		return exitUsage
	}
	e = withFile
	var g globals
	g.fromEnv(e.Getenv)
	root := flag.NewFlagSet("quantum", flag.ContinueOnError)
	root.SetOutput(io.Discard)
	g.register(root)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.Stdout)
			return exitOK
		}
		fmt.Fprintf(e.Stderr, "quantum: %s\nRun 'quantum help' for usage.\n", describeFlagError(root, args, err))
		return exitUsage
	}
	args = root.Args()
	if len(args) == 0 {
		printHelp(e.Stderr)
		return exitUsage
	}
	if args[0] == "help" {
		return help(e, args[1:])
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		return unknown(e, args)
	}
	inv := &invocation{Cmd: cmd, Env: e, G: g, raw: rest}
	inv.FS = flag.NewFlagSet("quantum "+cmd.Name, flag.ContinueOnError)
	inv.FS.SetOutput(io.Discard)
	inv.G.register(inv.FS)
	return cmd.Run(ctx, inv)
}

// lookup finds the longest command name made of the leading words of args.
func lookup(args []string) (*command, []string) {
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

func unknown(e *env, args []string) int {
	group := args[0]
	var sub []*command
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
		return exitUsage
	}
	fmt.Fprintf(e.Stderr, "quantum: unknown command %q\nRun 'quantum help' for the list of commands.\n", group)
	return exitUsage
}

func help(e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.Stdout)
		return exitOK
	}
	cmd, rest := lookup(args)
	if cmd == nil || len(rest) > 0 {
		return unknown(e, args)
	}
	return run(context.Background(), append(append([]string{}, args...), "--help"), e)
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
                       default `+defaultEnvFile+` when it exists)
  --redis URL          Redis URL (env QUANTUM_REDIS_URL, default `+defaultRedisURL+`)
  --prefix P           key prefix (env QUANTUM_PREFIX, default quantum)
  --log-format F       text or json, on stderr (env QUANTUM_LOG_FORMAT)
  --log-level L        debug, info, warn, error (env QUANTUM_LOG_LEVEL)

Run 'quantum help COMMAND' for a command's flags. Operator docs: docs/.
`)
}

func printCommands(w io.Writer, cs []*command) {
	sorted := append([]*command{}, cs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	tw := table(w)
	for _, c := range sorted {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.Summary)
	}
	tw.Flush()
}

// Open opens path, or returns stdin for "-".
func (e *env) Open(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(e.Stdin), nil
	}
	return os.Open(path)
}
