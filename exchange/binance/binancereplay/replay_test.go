package binancereplay_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantumtrader/quantum/exchange/binance/binancereplay"
)

// TestDirFound: the fixtures are found beside the repository, and a
// missing directory is a clear error naming where they belong.
func TestDirFound(t *testing.T) {
	dir, err := binancereplay.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("%s holds no README.md: %v", dir, err)
	}
	t.Setenv(binancereplay.EnvDir, filepath.Join(t.TempDir(), "absent"))
	if _, err := binancereplay.Dir(); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("absent override: %v", err)
	}
	t.Setenv(binancereplay.EnvDir, "")
	t.Chdir(t.TempDir())
	if _, err := binancereplay.Dir(); err == nil || !strings.Contains(err.Error(), "../shared/testdata/binance") {
		t.Fatalf("no fixtures above a temp dir: %v", err)
	}
}

// TestReplayAnswersAndRecords: a route answers its file byte for byte, a
// request without a route is a 404 that is recorded, a missing file is
// refused when routed.
func TestReplayAnswersAndRecords(t *testing.T) {
	dir, err := binancereplay.Dir()
	if err != nil {
		t.Fatal(err)
	}
	s := binancereplay.New(dir, "secret")
	defer s.Close()
	if err := s.Handle("GET", "/fapi/v1/time", binancereplay.Route{File: "sdk_check_server_time.json"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Handle("GET", "/x", binancereplay.Route{File: "no-such-file.json"}); err == nil {
		t.Fatal("a missing file was routed")
	}
	resp, err := http.Get(s.URL() + "/fapi/v1/time")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, _ := os.ReadFile(filepath.Join(dir, "sdk_check_server_time.json"))
	if string(got) != string(want) {
		t.Fatalf("answered %q, want the file", got)
	}
	resp, err = http.Get(s.URL() + "/fapi/v1/nothing?signature=00")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || len(s.Unrouted()) != 1 || len(s.Requests()) != 2 || !s.Requests()[1].Signed || s.Requests()[1].SignatureOK {
		t.Fatalf("unrouted: status %d, %v, %+v", resp.StatusCode, s.Unrouted(), s.Requests())
	}
}
