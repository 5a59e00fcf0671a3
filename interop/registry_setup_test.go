package interop

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Registries set up as the big ones run them, all on 127.0.0.1: TLS with
// a private CA, bearer tokens from a separate token server
// (dockertest.TokenServer), basic auth over TLS, client certificates, and
// a throttling proxy.

// distOpts configure a docker-registry (distribution) instance.
type distOpts struct {
	user, pass string           // htpasswd basic auth when user != ""
	tls        *dockertest.Cert // serve https with this certificate
	clientCA   string           // require client certificates signed by this CA
	client     *dockertest.Cert // the client certificate the readiness probe uses
	auth       string           // an `auth:` section (token auth)
}

// startDistribution runs `docker-registry serve` with o; it is killed when
// the test ends.
func startDistribution(t *testing.T, o distOpts) *distRegistry {
	t.Helper()
	dockertest.Require(t, "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n",
		filepath.Join(dir, "data"), port)
	if o.tls != nil {
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", o.tls.CertFile, o.tls.KeyFile)
		if o.clientCA != "" {
			cfg += fmt.Sprintf("    clientcas:\n      - %s\n", o.clientCA)
		}
	}
	if o.user != "" {
		cfg += htpasswdAuth(t, dir, o.user, o.pass)
	}
	cfg += o.auth
	cp := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &distRegistry{host: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "registry.log")}
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command("docker-registry", "serve", cp)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			b, _ := os.ReadFile(r.log)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) > 8 {
				lines = lines[len(lines)-8:]
			}
			t.Logf("registry log (tail):\n%s", strings.Join(lines, "\n"))
		}
	})
	waitRegistry(t, r, o)
	return r
}

func htpasswdAuth(t *testing.T, dir, user, pass string) string {
	t.Helper()
	dockertest.Require(t, "htpasswd")
	out, err := exec.Command("htpasswd", "-Bbn", user, pass).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	hp := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(hp, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: test-realm\n    path: %s\n", hp)
}

// waitRegistry waits until /v2/ answers (200 or 401).
func waitRegistry(t *testing.T, r *distRegistry, o distOpts) {
	t.Helper()
	scheme, tc := "http", &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a readiness probe
	if o.tls != nil {
		scheme = "https"
		if o.client != nil {
			kp, err := tls.LoadX509KeyPair(o.client.CertFile, o.client.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{kp}
		}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(scheme + "://" + r.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(r.log)
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", r.host, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dockerCertsD writes /etc/docker/certs.d/HOST/ (ca.crt, and the client
// certificate if given) for dockerd and imgtool to read, and removes it
// when the test ends. dockerd has no option to read another directory
// (rootless mode aside), so the test writes the real one; HOST carries the
// test registry's port, so nothing else's trust is touched.
func dockerCertsD(t *testing.T, pki *dockertest.PKI, host string, client *dockertest.Cert) string {
	t.Helper()
	dir := filepath.Join("/etc/docker/certs.d", host)
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists already; not touching it", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	_, statErr := os.Stat(filepath.Dir(dir))
	t.Cleanup(func() {
		os.RemoveAll(dir)
		if errors.Is(statErr, os.ErrNotExist) {
			os.Remove(filepath.Dir(dir)) // only if empty: another test may use it
		}
	})
	pki.CertsDir(t, dir, client)
	return dir
}

// dockerLogin logs the private daemon's CLI in to host (logged out when
// the test ends); it returns docker login's error output, "" on success.
func dockerLogin(t *testing.T, d *dockertest.Daemon, host, user, pass string) string {
	t.Helper()
	t.Cleanup(func() { d.DockerErr("logout", host) })
	_, stderr, err := d.DockerInErr(strings.NewReader(pass), "login", "-u", user, "--password-stdin", host)
	if err != nil {
		return strings.TrimSpace(stderr)
	}
	return ""
}

// ---- a throttling proxy --------------------------------------------------------

// throttle is a reverse proxy in front of a registry that refuses every
// Nth request as registries and their load balancers under load do, in
// turn: 429 (Retry-After: 1 second), 503, a dropped connection (for a blob
// download: halfway through the body). No request (method and path, upload
// sessions counted as one) is refused twice, and at most max are refused,
// so a client that retries gets through.
type throttle struct {
	host string
	srv  *httptest.Server

	n         atomic.Int64
	dropBlobs atomic.Bool // also cut the first download of every blob halfway
	mu        sync.Mutex
	refused   map[string]int // "METHOD kind" -> refusals (kind: manifests, blobs, uploads, other)
	total     int
	seen      map[string]bool
	last429   map[string]time.Time // client address -> time of its last 429
	gaps      []time.Duration      // from a 429 to that client's next request
}

func newThrottle(t *testing.T, target string, every, max int) *throttle {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	tp := &throttle{refused: map[string]int{}, seen: map[string]bool{}, last429: map[string]time.Time{}}
	tp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp.dropBlob(r) {
			rp.ServeHTTP(&cutWriter{ResponseWriter: w}, r)
			panic(http.ErrAbortHandler)
		}
		if status := tp.decide(r, every, max); status != 0 {
			if status == dropConnection {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
					rp.ServeHTTP(&cutWriter{ResponseWriter: w}, r)
				}
				panic(http.ErrAbortHandler)
			}
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit exceeded, slow down"}]}`)
				return
			}
			w.WriteHeader(status)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(tp.srv.Close)
	tp.host = strings.TrimPrefix(tp.srv.URL, "http://")
	return tp
}

// dropBlob reports whether r is the first download of a blob while
// dropBlobs is set.
func (tp *throttle) dropBlob(r *http.Request) bool {
	if !tp.dropBlobs.Load() || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
		return false
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	key := "cut " + r.URL.Path
	if tp.seen[key] {
		return false
	}
	tp.seen[key] = true
	tp.total++
	tp.refused["GET blobs cut"]++
	return true
}

func (tp *throttle) decide(r *http.Request, every, max int) int {
	k := tp.n.Add(1)
	kind := "other"
	for _, s := range []string{"/blobs/uploads/", "/blobs/", "/manifests/"} {
		if i := strings.Index(r.URL.Path, s); i >= 0 {
			kind = strings.Trim(s, "/")
			break
		}
	}
	key := r.Method + " " + r.URL.Path
	if kind == "blobs/uploads" {
		key = r.Method + " uploads " + r.URL.Path[:strings.Index(r.URL.Path, "/blobs/uploads/")]
	}
	client, _, _ := strings.Cut(r.RemoteAddr, ":")
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if at, ok := tp.last429[client]; ok {
		tp.gaps = append(tp.gaps, time.Since(at))
		delete(tp.last429, client)
	}
	if k%int64(every) != 0 || tp.seen[key] || tp.total >= max || r.URL.Path == "/v2/" {
		return 0
	}
	tp.seen[key] = true
	tp.total++
	switch tp.total % 3 {
	case 1:
		tp.refused[r.Method+" "+kind]++
		tp.last429[client] = time.Now()
		return http.StatusTooManyRequests
	case 2:
		tp.refused[r.Method+" "+kind]++
		return http.StatusServiceUnavailable
	}
	tp.refused[r.Method+" "+kind+" dropped"]++
	return dropConnection
}

// dropConnection is decide's answer for "close the connection".
const dropConnection = -1

// cutWriter passes half of a response body that has a Content-Length,
// then drops the connection.
type cutWriter struct {
	http.ResponseWriter
	left int64
	cut  bool
}

func (c *cutWriter) WriteHeader(code int) {
	if n, err := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64); err == nil && code == http.StatusOK && n > 1 {
		c.left, c.cut = n/2, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.cut && int64(len(b)) >= c.left {
		c.ResponseWriter.Write(b[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(b))
	return c.ResponseWriter.Write(b)
}

func (tp *throttle) stats() (refused map[string]int, total int, gaps []time.Duration) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	m := map[string]int{}
	for k, v := range tp.refused {
		m[k] = v
	}
	return m, tp.total, append([]time.Duration(nil), tp.gaps...)
}

func (tp *throttle) reset() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.refused, tp.total, tp.seen, tp.gaps = map[string]int{}, 0, map[string]bool{}, nil
	tp.last429 = map[string]time.Time{}
}
