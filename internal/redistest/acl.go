package redistest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ShippedACL starts a redis-server of the test's own loaded with the
// repository's deploy/redis/users.acl, each CHANGE-ME-x password set to
// pw-x, plus a user admin (password pw-admin) that may do anything, for
// the test's own setup. It returns a client of a user (closed when the
// test ends), and the server.
func ShippedACL(t testing.TB) (client func(user string) *redis.Client, srv *Server) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "redis", "users.acl"))
	if err != nil {
		t.Fatal(err)
	}
	acl := regexp.MustCompile(`>CHANGE-ME-`).ReplaceAllString(string(b), ">pw-") + "user admin on >pw-admin ~* &* +@all\n"
	path := filepath.Join(t.TempDir(), "users.acl")
	if err := os.WriteFile(path, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	srv = Start(t, Options{Args: []string{"--aclfile", path}})
	return func(user string) *redis.Client {
		pw := "pw-" + strings.TrimPrefix(user, "quantum-")
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket(), Username: user, Password: pw})
		t.Cleanup(func() { c.Close() })
		return c
	}, srv
}

// moduleRoot is the nearest directory above the working directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", os.ErrNotExist
		}
		dir = up
	}
}
