// Package redistest starts real redis-server processes for tests.
//
// Tests of this project run against the real server, never a fake: Main
// starts one redis-server per test package on a unix socket in a private
// temporary directory and stops it when the package's tests end; New gives
// each test its own key prefix on that server, so tests may run in parallel.
// Start gives a test a server of its own, for outage tests that stop it.
//
// When redis-server is not on PATH the tests fail with an install hint; they
// are never skipped.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quantumtrader/quantum/keys"
)

// InstallHint says how to get redis-server.
const InstallHint = "redis-server not found on PATH: the tests need a real Redis (7.0 or newer). " +
	"Install it with `apt-get install -y redis-server` (Debian/Ubuntu), `dnf install redis` (Fedora) " +
	"or `brew install redis` (macOS), then run the tests again."

// Server is a redis-server process owned by a test.
type Server struct {
	dir    string
	sock   string
	port   int
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
}

// Options configures a Server.
type Options struct {
	// TCP also listens on a free loopback port (for tests that need host:port).
	TCP bool
	// Args are extra redis-server arguments, such as "--aclfile", path.
	Args []string
}

// StartServer starts redis-server in a new temporary directory and waits
// until it answers PING.
func StartServer(opt Options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%s (%w)", InstallHint, err)
	}
	// Unix socket paths are limited to about 100 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "qrt")
	if err != nil {
		return nil, fmt.Errorf("redistest: temp dir: %w", err)
	}
	s := &Server{dir: dir, sock: filepath.Join(dir, "redis.sock")}
	port := 0
	if opt.TCP {
		if port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s.port = port
	s.args = append([]string{
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--unixsocket", s.sock, "--unixsocketperm", "700",
		"--dir", dir, "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(dir, "redis.log"),
	}, opt.Args...)
	if err := s.start(bin); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) start(bin string) error {
	cmd := exec.Command(bin, s.args...)
	cmd.Dir = s.dir
	// The server dies with the test binary, even on a crash.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		var reply redis.Error
		if err == nil || errors.As(err, &reply) { // NOAUTH and the like: it answers
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redistest: redis-server exited at start: %s", s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redistest: redis-server did not answer PING within 15s (%v): %s", err, s.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) logTail() string { return logTail(s.dir) }

// logTail returns the last lines of dir/redis.log, for failure messages.
func logTail(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

// Socket returns the server's unix socket path.
func (s *Server) Socket() string { return s.sock }

// Addr returns host:port when the server listens on TCP, else "".
func (s *Server) Addr() string {
	if s.port == 0 {
		return ""
	}
	return fmt.Sprintf("127.0.0.1:%d", s.port)
}

// URL returns a redis URL for the server's unix socket.
func (s *Server) URL() string { return "unix://" + s.sock }

// Dir returns the server's working directory (removed by Close).
func (s *Server) Dir() string { return s.dir }

// Client returns a new client for the server; the caller closes it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock})
}

// Stop kills the server and waits for it to exit; Restart starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Restart starts a stopped server again with the same socket and port.
func (s *Server) Restart() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("%s (%w)", InstallHint, err)
	}
	return s.start(bin)
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	shared   *Server
	prefixes atomic.Int64
)

// Main runs a package's tests with a shared redis-server. Use it as
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	srv, err := StartServer(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	shared = srv
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// Env is one test's view of the shared server.
type Env struct {
	Server *Server
	Client *redis.Client
	Keys   keys.Space
}

// New returns a client of the package's shared server and a key prefix no
// other test uses. The client is closed when the test ends.
func New(t testing.TB) *Env {
	t.Helper()
	if shared == nil {
		t.Fatal("redistest: no shared server: the package needs func TestMain(m *testing.M) { redistest.Main(m) }")
	}
	c := shared.Client()
	t.Cleanup(func() { c.Close() })
	return &Env{Server: shared, Client: c, Keys: keys.MustNew(fmt.Sprintf("t%d", prefixes.Add(1)))}
}

// Start gives the test a redis-server of its own, closed when the test ends.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	s, err := StartServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// StreamEntries returns every entry of a stream, oldest first, as field maps.
func StreamEntries(t testing.TB, c *redis.Client, stream string) []map[string]string {
	t.Helper()
	msgs, err := c.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	out := make([]map[string]string, len(msgs))
	for i, m := range msgs {
		out[i] = make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			out[i][k] = fmt.Sprint(v)
		}
	}
	return out
}
