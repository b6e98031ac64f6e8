package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelInstallHint says how to get redis-sentinel.
const SentinelInstallHint = "redis-sentinel not found on PATH: the failover tests need real Sentinel processes (Redis 7.0 or newer). " +
	"Install it with `apt-get install -y redis-sentinel` (Debian/Ubuntu), `dnf install redis` (Fedora, includes redis-sentinel) " +
	"or `brew install redis` (macOS), then run the tests again."

// MasterName is the name the sentinels of StartSentinels monitor.
const MasterName = "qmaster"

// Sentinel timings: fast enough for tests, the same mechanism as production.
const (
	DownAfter       = 1000 * time.Millisecond // sentinel down-after-milliseconds
	FailoverTimeout = 3000 * time.Millisecond // sentinel failover-timeout
)

// Sentinels is a primary, one replica and three redis-sentinel processes
// monitoring them with a quorum of two, all on free loopback ports.
type Sentinels struct {
	Primary, Replica *Server
	procs            []*proc
	opt              SentinelOptions
}

// SentinelOptions configures StartSentinelsWith.
type SentinelOptions struct {
	// Password is the servers' requirepass (and masterauth, so that the
	// replica syncs and the old primary can rejoin); the sentinels use it
	// as auth-pass. Empty: no auth.
	Password string
	// SentinelPassword is the sentinels' own requirepass. Empty: no auth.
	SentinelPassword string
}

// StartSentinels starts a set without auth (StartSentinelsWith).
func StartSentinels(t testing.TB) *Sentinels { return StartSentinelsWith(t, SentinelOptions{}) }

// StartSentinelsWith starts the set and waits until the replica is in sync
// and every sentinel knows the replica and the two other sentinels, so that
// a failover can start as soon as the primary dies. Everything is stopped
// when the test ends.
func StartSentinelsWith(t testing.TB, opt SentinelOptions) *Sentinels {
	t.Helper()
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		t.Fatalf("%s (%v)", SentinelInstallHint, err)
	}
	s := &Sentinels{opt: opt}
	var auth []string
	if opt.Password != "" {
		auth = []string{"--requirepass", opt.Password, "--masterauth", opt.Password}
	}
	s.Primary = Start(t, Options{TCP: true, Args: auth})
	s.Replica = Start(t, Options{TCP: true, Args: append([]string{"--replicaof", "127.0.0.1", fmt.Sprint(s.Primary.port),
		"--repl-diskless-load", "disabled"}, auth...)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitInfo(ctx, s.serverClient(s.Replica.Addr()), "replication", "master_link_status:up"); err != nil {
		t.Fatalf("redistest: replica did not sync: %v\n%s", err, s.Replica.logTail())
	}
	for range 3 {
		p, err := startSentinel(bin, s.Primary.port, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.close)
		s.procs = append(s.procs, p)
	}
	for _, p := range s.procs {
		c := s.sentinelClient(p.addr())
		err := poll(ctx, func() (bool, error) {
			replicas, err := c.Do(ctx, "SENTINEL", "REPLICAS", MasterName).Slice()
			if err != nil {
				return false, err
			}
			others, err := c.Do(ctx, "SENTINEL", "SENTINELS", MasterName).Slice()
			return len(replicas) == 1 && len(others) == 2, err
		})
		c.Close()
		if err != nil {
			t.Fatalf("redistest: sentinel on %s did not discover the set: %v\n%s", p.addr(), err, p.logTail())
		}
	}
	return s
}

// URL returns the redis+sentinel:// URL of the set, database 0.
func (s *Sentinels) URL() string {
	return "redis+sentinel://" + strings.Join(s.SentinelAddrs(), ",") + "/" + MasterName + "/0"
}

// SentinelAddrs returns the sentinels' host:port.
func (s *Sentinels) SentinelAddrs() []string {
	out := make([]string, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.addr()
	}
	return out
}

func (s *Sentinels) serverClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Password: s.opt.Password})
}

func (s *Sentinels) sentinelClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Password: s.opt.SentinelPassword})
}

// MasterAddr asks the first sentinel that answers for the primary's address.
func (s *Sentinels) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, p := range s.procs {
		c := redis.NewSentinelClient(&redis.Options{Addr: p.addr(), Password: s.opt.SentinelPassword})
		a, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		c.Close()
		if err == nil && len(a) == 2 {
			return a[0] + ":" + a[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("redistest: no sentinel named the primary: %w", last)
}

// WaitPromoted waits until the sentinels name a primary other than old and
// that server answers as a master; it returns the new address.
func (s *Sentinels) WaitPromoted(ctx context.Context, old string) (string, error) {
	var addr string
	err := poll(ctx, func() (bool, error) {
		a, err := s.MasterAddr(ctx)
		if err != nil || a == old {
			return false, err
		}
		c := s.serverClient(a)
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			return false, err
		}
		addr = a
		return true, nil
	})
	return addr, err
}

// Kill sends SIGKILL to the server (no shutdown, no save: a crash) and
// waits until it is gone. Restart brings it back with the same arguments.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// TCPClient returns a new client for the server's TCP address.
func (s *Server) TCPClient() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr()})
}

func waitInfo(ctx context.Context, c *redis.Client, section, want string) error {
	defer c.Close()
	return poll(ctx, func() (bool, error) {
		info, err := c.Info(ctx, section).Result()
		return strings.Contains(info, want), err
	})
}

// poll calls cond every 50 ms until it is true or ctx ends; the error is the
// last one cond returned, or the context's.
func poll(ctx context.Context, cond func() (bool, error)) error {
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// proc is a helper process on a TCP port (a sentinel), killed with the
// test binary.
type proc struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

func (p *proc) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

func (p *proc) logTail() string { return logTail(p.dir) }

func (p *proc) close() {
	p.cmd.Process.Kill()
	<-p.exited
	os.RemoveAll(p.dir)
}

func startSentinel(bin string, primaryPort int, opt SentinelOptions) (*proc, error) {
	dir, err := os.MkdirTemp("", "qrs")
	if err != nil {
		return nil, fmt.Errorf("redistest: temp dir: %w", err)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Sentinel rewrites its configuration file: it must be writable.
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, port, dir, filepath.Join(dir, "redis.log"), MasterName, primaryPort,
		MasterName, DownAfter.Milliseconds(), MasterName, FailoverTimeout.Milliseconds(), MasterName)
	if opt.Password != "" {
		conf += fmt.Sprintf("sentinel auth-pass %s %s\n", MasterName, opt.Password)
	}
	if opt.SentinelPassword != "" {
		conf += fmt.Sprintf("requirepass %s\n", opt.SentinelPassword)
	}
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("redistest: sentinel.conf: %w", err)
	}
	p := &proc{dir: dir, port: port, cmd: exec.Command(bin, path), exited: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("redistest: start redis-sentinel: %w", err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	if err := p.waitPing(opt.SentinelPassword); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *proc) waitPing(password string) error {
	c := redis.NewClient(&redis.Options{Addr: p.addr(), Password: password, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := poll(ctx, func() (bool, error) {
		select {
		case <-p.exited:
			return false, errors.New("exited at start")
		default:
		}
		return c.Ping(ctx).Err() == nil, nil
	})
	if err != nil {
		return fmt.Errorf("redistest: %s on %s did not answer PING: %v\n%s", filepath.Base(p.cmd.Path), p.addr(), err, p.logTail())
	}
	return nil
}
