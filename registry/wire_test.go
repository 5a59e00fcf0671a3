package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"2": 2 * time.Second, "0": 0, "Thu, 01 Jan 2026 00:00:05 GMT": 5 * time.Second, "Thu, 01 Jan 2025 00:00:05 GMT": 0,
	} {
		if d, ok := retryAfter(v, now); !ok || d != want {
			t.Errorf("retryAfter(%q) = %v %v, want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "soon", "-1"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("retryAfter(%q) accepted", v)
		}
	}
}

func TestChallengeError(t *testing.T) {
	h := `Bearer realm="https://auth.example/token,x",service="reg",scope="repository:a:pull,push",error="insufficient_scope"`
	if got := challengeError([]string{`Basic realm="x"`, h}); got != "insufficient_scope" {
		t.Errorf("challengeError = %q", got)
	}
	if got := challengeError([]string{`Bearer realm="x",service="y"`}); got != "" {
		t.Errorf("challengeError without error = %q", got)
	}
}

// throttled serves a ggcr registry whose every 4th request (HEAD probes
// included) is answered 429 with Retry-After: 1, or 503; no request is
// refused twice (so the counts are bounded: a retry gets through).
func throttled(t *testing.T) (host string, hits *sync.Map, gaps *[]time.Duration) {
	h := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	var n atomic.Int64
	var once sync.Map
	hits = &sync.Map{}
	var mu sync.Mutex
	var last429 time.Time
	gaps = &[]time.Duration{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if !last429.IsZero() {
			*gaps = append(*gaps, time.Since(last429))
			last429 = time.Time{}
		}
		mu.Unlock()
		k := n.Add(1)
		key := r.Method + " " + r.URL.Path
		if i := strings.Index(key, "/uploads/"); i >= 0 {
			key = key[:i] // one key for all upload sessions
		}
		_, seen := once.LoadOrStore(key, true)
		if k%4 == 0 && !seen && r.URL.Path != "/v2/" {
			c, _ := hits.LoadOrStore(r.Method, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
			if k%8 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			mu.Lock()
			last429 = time.Now()
			mu.Unlock()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), hits, gaps
}

func TestThrottledPushPull(t *testing.T) {
	host, hits, gaps := throttled(t)
	opts := testOpts(t)
	opts.Backoff = remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 4}
	opts.Jobs = 1 // one request at a time, so the gap after a 429 is the retry's
	ref := host + "/app:1"
	if _, err := Push(context.Background(), ref, mkRawImage(t, "thr", 3), opts); err != nil {
		t.Fatalf("throttled push: %v", err)
	}
	// Again: the existence probes (HEAD) meet the throttle too.
	if _, err := Push(context.Background(), ref, mkRawImage(t, "thr", 3), opts); err != nil {
		t.Fatalf("throttled second push: %v", err)
	}
	_, es, err := pulled(ref, opts, nil, false)
	if err != nil {
		t.Fatalf("throttled pull: %v", err)
	}
	for _, e := range es {
		ls, _ := e.Image.Layers()
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("throttled blob read: %v", err)
			}
			rc.Close()
		}
	}
	if c, ok := hits.Load(http.MethodHead); !ok || c.(*atomic.Int64).Load() == 0 {
		t.Errorf("no HEAD request was throttled (the test does not test the probe)")
	}
	if len(*gaps) == 0 {
		t.Fatal("no 429 was followed by a request")
	}
	for _, g := range *gaps {
		if g < 900*time.Millisecond {
			t.Errorf("request %v after a 429 with Retry-After: 1", g)
		}
	}
}

func TestInsufficientScopeIsDenied(t *testing.T) {
	h := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			io.WriteString(w, `{"token":"pull-only"}`)
			return
		}
		realm := `Bearer realm="` + srv.URL + `/token",service="test"`
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", realm)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("WWW-Authenticate", realm+`,scope="repository:app:pull,push",error="insufficient_scope"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/app:1"
	_, err := Push(context.Background(), ref, mkRawImage(t, "den", 1), testOpts(t))
	if err == nil || !strings.Contains(err.Error(), "denied: requested access to the resource is denied") || strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("push without push rights: %v", err)
	}
}

// writeCert writes the server's certificate as PEM into dir/name.
func writeCert(t *testing.T, srv *httptest.Server, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrivateCA(t *testing.T) {
	h := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	certs := t.TempDir()
	defer func(old string) { DockerCertsDir = old }(DockerCertsDir)
	DockerCertsDir = certs
	ref := host + "/app:1"
	opts := testOpts(t)

	_, err := Push(context.Background(), ref, mkRawImage(t, "ca", 1), opts)
	if err == nil || !strings.Contains(err.Error(), "TLS certificate not trusted") || !strings.Contains(err.Error(), "--insecure") ||
		strings.Contains(err.Error(), "HTTP request to an HTTPS server") {
		t.Errorf("untrusted certificate: %v", err)
	}
	insecure := opts
	insecure.Insecure = true
	if _, err := Push(context.Background(), ref, mkRawImage(t, "ca", 1), insecure); err != nil {
		t.Errorf("--insecure: %v", err)
	}
	writeCert(t, srv, filepath.Join(certs, host), "ca.crt")
	if _, err := Open(context.Background(), ref, opts); err != nil {
		t.Errorf("CA in certs.d/%s: %v", host, err)
	}
	other := t.TempDir()
	writeCert(t, srv, other, "my.crt")
	os.RemoveAll(filepath.Join(certs, host))
	withDir := opts
	withDir.CertDir = other
	if _, err := Open(context.Background(), ref, withDir); err != nil {
		t.Errorf("--cert-dir: %v", err)
	}
	// A client certificate without its key is refused, as by Docker.
	os.WriteFile(filepath.Join(other, "client.cert"), []byte("x"), 0o644)
	if _, err := withDir.tlsConfig(host); err == nil || !strings.Contains(err.Error(), "missing key") {
		t.Errorf("client.cert without client.key: %v", err)
	}
}

func TestClientCertificate(t *testing.T) {
	h := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	dir := t.TempDir()
	writeCert(t, srv, dir, "ca.crt")
	opts := testOpts(t)
	opts.CertDir = dir
	_, err := Open(context.Background(), host+"/app:1", opts)
	if err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("no client certificate: %v", err)
	}
	// httptest's own certificate serves as the client's here.
	c := srv.TLS.Certificates[0]
	key, cert := filepath.Join(dir, "client.key"), filepath.Join(dir, "client.cert")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644)
	writeKey(t, c, key)
	if _, err := Push(context.Background(), host+"/app:1", mkRawImage(t, "cc", 1), opts); err != nil {
		t.Errorf("with client certificate: %v", err)
	}
}

func writeKey(t *testing.T, c tls.Certificate, path string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A registry that keeps refusing: bounded retries, then Docker's words.
func TestThrottleExhausted(t *testing.T) {
	var n atomic.Int64
	for status, want := range map[int]string{
		http.StatusTooManyRequests:    "toomanyrequests: slow down",
		http.StatusServiceUnavailable: "unavailable: 503 Service Unavailable",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return
			}
			n.Add(1)
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(status)
				io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`)
				return
			}
			w.WriteHeader(status)
		}))
		n.Store(0)
		opts := testOpts(t)
		opts.Backoff = remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
		_, err := Open(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/app:1", opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%d: %v, want %q", status, err, want)
		}
		if got := n.Load(); got != 3 {
			t.Errorf("%d: %d requests, want 3 (bounded retries)", status, got)
		}
		srv.Close()
	}
}

// The connection drops in the middle of every blob's first download: the
// pull fetches it again, skips what it had, and the digest checks out.
func TestPullResumesDroppedBlob(t *testing.T) {
	reg := newRegistry(t)
	opts := testOpts(t)
	opts.Backoff = remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 3}
	ref := reg.host + "/app:1"
	res, err := Push(context.Background(), ref, mkRawImage(t, "drop", 2), opts)
	if err != nil {
		t.Fatal(err)
	}
	h := reg.srv.Config.Handler
	var dropped sync.Map
	for _, l := range res.Layers {
		dropped.Store("/v2/app/blobs/"+l.Digest.String(), false) // to drop once
	}
	rimg, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := rimg.ConfigName()
	dropped.Store("/v2/app/blobs/"+cfg.String(), false) // the config too
	var drops atomic.Int64
	reg.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			h.ServeHTTP(w, r)
			return
		}
		if first, _ := dropped.Swap(r.URL.Path, true); first != false {
			h.ServeHTTP(w, r) // a second download
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(rec.Code)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		drops.Add(1)
		panic(http.ErrAbortHandler)
	})
	_, es, err := pulled(ref, opts, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := es[0].Image.Layers()
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("layer read with a dropped connection: %v", err)
		}
		rc.Close()
	}
	if drops.Load() < 3 {
		t.Errorf("%d downloads dropped; the test did not test resuming", drops.Load())
	}
}

// pull and push take Docker's reference grammar, not ggcr's looser one.
func TestParseReferenceDockerGrammar(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:5000/x:..", "127.0.0.1:5000/../evil:1", "reg.example/a//b:1", "x:-1"} {
		if r, err := ParseReference(bad, Options{}); err == nil {
			t.Errorf("ParseReference(%q) = %v, want Docker's invalid reference format", bad, r)
		}
	}
	if _, err := ParseReference("127.0.0.1:5000/team/app:1.0", Options{}); err != nil {
		t.Errorf("a good reference: %v", err)
	}
}
