// Package binancereplay is a local HTTP server that answers Binance USD-M
// requests with recorded response bodies: the documentation's examples and
// bodies recorded by public clients, kept in shared/testdata/binance beside
// the repository (its README names the source of every file). The adapter's
// contract tests run against it instead of the fake (package binancefake),
// so that a misreading of the API that the fake shares with the adapter
// still shows.
//
// It does not simulate anything: a route answers the same body every time.
// It records every request, and checks the HMAC-SHA256 signature of a
// signed one with the secret it was given, over the exact parameter text
// (query string, then body), as the venue does.
package binancereplay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// EnvDir overrides where the recorded bodies are looked for.
const EnvDir = "QUANTUM_BINANCE_TESTDATA"

// Dir finds the recorded bodies: $QUANTUM_BINANCE_TESTDATA, else the
// first shared/testdata/binance directory found walking up from the
// working directory (a test runs in its package's directory; shared/ sits
// beside the repository root). The error says how to provide it.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", fmt.Errorf("binancereplay: %s=%s is not a directory", EnvDir, d)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("binancereplay: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "testdata", "binance")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("binancereplay: no shared/testdata/binance directory above %s: the contract fixtures live in ../shared/testdata/binance "+
		"relative to the repository root (copy shared/ beside the repository, as CI does, or set %s)", wd, EnvDir)
}

// Route is the answer to one method and path.
type Route struct {
	File   string            // a file of the fixture directory, answered as it is
	Body   string            // or this body (a test's synthetic answer: say so where it is built)
	Status int               // default 200
	Header map[string]string // extra response headers
}

// Request is a request the server received.
type Request struct {
	Method, Path string
	Params       url.Values // query and body together
	APIKey       string
	Signed       bool // it carried a signature
	SignatureOK  bool // and the signature is the HMAC of the parameter text with the secret
}

// Server answers recorded bodies.
type Server struct {
	srv    *httptest.Server
	dir    string
	secret []byte

	mu       sync.Mutex
	routes   map[string]Route
	requests []Request
	unrouted []string
}

// New starts a server answering files of dir; secret checks signatures.
// Close it when done.
func New(dir, secret string) *Server {
	s := &Server{dir: dir, secret: []byte(secret), routes: map[string]Route{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to give the adapter.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Handle answers method and path with r from now on; the file must exist.
func (s *Server) Handle(method, path string, r Route) error {
	if r.File != "" {
		if _, err := os.Stat(filepath.Join(s.dir, r.File)); err != nil {
			return fmt.Errorf("binancereplay: %s %s: %w", method, path, err)
		}
	}
	s.mu.Lock()
	s.routes[method+" "+path] = r
	s.mu.Unlock()
	return nil
}

// Requests returns the requests received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Unrouted returns the requests no route answered ("METHOD path").
func (s *Server) Unrouted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unrouted...)
}

// ErrNoRoute is the body answered to a request without a route.
var ErrNoRoute = errors.New("replay: no recorded body for this request")

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	total := r.URL.RawQuery + string(body)
	params, _ := url.ParseQuery(strings.Trim(r.URL.RawQuery+"&"+string(body), "&"))
	req := Request{Method: r.Method, Path: r.URL.Path, Params: params, APIKey: r.Header.Get("X-MBX-APIKEY")}
	if i := strings.LastIndex(total, "signature="); i >= 0 {
		req.Signed = true
		m := hmac.New(sha256.New, s.secret)
		m.Write([]byte(strings.TrimSuffix(total[:i], "&")))
		req.SignatureOK = hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(params.Get("signature")))
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	route, ok := s.routes[r.Method+" "+r.URL.Path]
	if !ok {
		s.unrouted = append(s.unrouted, r.Method+" "+r.URL.Path)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"code":-1000,"msg":%q}`, ErrNoRoute.Error())
		return
	}
	data := []byte(route.Body)
	if route.File != "" {
		var err error
		if data, err = os.ReadFile(filepath.Join(s.dir, route.File)); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"code":-1000,"msg":%q}`, "replay: "+err.Error())
			return
		}
	}
	for k, v := range route.Header {
		w.Header().Set(k, v)
	}
	if route.Status != 0 {
		w.WriteHeader(route.Status)
	}
	w.Write(data)
}
