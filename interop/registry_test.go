package interop

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// ---- a real distribution registry (Debian's docker-registry) ----------------

type distRegistry struct {
	host string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	log  string
	once sync.Once
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRegistry runs `docker-registry serve` on 127.0.0.1 with a temp
// storage dir, with htpasswd basic auth when user is not "". It is killed
// when the test ends.
func startRegistry(t *testing.T, user, pass string) *distRegistry {
	t.Helper()
	return startDistribution(t, distOpts{user: user, pass: pass})
}

// kill stops the registry process this test started (by its pid).
func (r *distRegistry) kill() {
	r.once.Do(func() {
		if r.cmd.Process != nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
}

// ---- a counting reverse proxy in front of it ---------------------------------

type proxy struct {
	host      string
	srv       *httptest.Server
	uploads   atomic.Int64                                      // upload sessions started (POST …/blobs/uploads/ without a mount)
	mounts    atomic.Int64                                      // mount requests
	blobPuts  atomic.Int64                                      // PUT …/blobs/uploads/… (upload commits)
	onRequest func(w http.ResponseWriter, r *http.Request) bool // true: handled
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &proxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.onRequest != nil && p.onRequest(w, r) {
			return
		}
		if strings.Contains(r.URL.Path, "/blobs/uploads/") {
			switch r.Method {
			case http.MethodPost:
				if r.URL.Query().Get("from") != "" {
					p.mounts.Add(1)
				} else {
					p.uploads.Add(1)
				}
			case http.MethodPut:
				p.blobPuts.Add(1)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	p.host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

func (p *proxy) reset() { p.uploads.Store(0); p.mounts.Store(0); p.blobPuts.Store(0) }

type pushJSON struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	Layers []struct {
		Digest string `json:"digest"`
		DiffID string `json:"diff_id"`
		Status string `json:"status"`
		From   string `json:"from"`
	} `json:"layers"`
	Manifests []struct {
		Digest string `json:"digest"`
		Config string `json:"config"`
	} `json:"manifests"`
}

type pullJSON struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	Images []struct {
		ID       string   `json:"id"`
		Manifest string   `json:"manifest"`
		Tags     []string `json:"tags"`
		DiffIDs  []string `json:"diff_ids"`
	} `json:"images"`
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
}

// isolateDockerConfig points imgtool (ggcr's keychain) at an empty or
// given Docker client config, so the host's credentials are never used.
func isolateDockerConfig(t *testing.T, auths map[string]string) {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"auths": map[string]any{}}
	for host, userpass := range auths {
		cfg["auths"].(map[string]any)[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(userpass))}
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// ---- tests --------------------------------------------------------------------

// imgtool push of a multi-layer image, docker pull of it, docker run; a
// second push uploads nothing, a push to another repository mounts.
func TestRegistryPushDockerPull(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	px := newProxy(t, reg.host)
	d := dockertest.Shared(t)
	id := richImage(t, d, "regpush:1", "regpush")
	layers := rootFSLayers(t, d, "regpush:1")
	wantRun := d.Run(t, "regpush:1", dockertest.RichCheck...)
	if len(layers) < 2 {
		t.Fatalf("precondition: %d layers", len(layers))
	}
	store := newStore(t)
	tarPath := filepath.Join(t.TempDir(), "regpush.tar")
	d.Docker(t, "save", "-o", tarPath, "regpush:1")
	dockertest.MustImgtool(t, "--root", store, "load", "-i", tarPath)

	ref := px.host + "/team/regpush:1"
	var res pushJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "push", "--json", "regpush:1", ref), &res)
	if res.Digest == "" || len(res.Layers) != len(layers) {
		t.Fatalf("push result %+v", res)
	}
	for i, l := range res.Layers {
		if l.DiffID != layers[i] || l.Status != "pushed" {
			t.Errorf("layer %d: %+v (want diff_id %s, pushed)", i, l, layers[i])
		}
	}
	if got, want := px.uploads.Load(), int64(len(layers)+1); got != want {
		t.Errorf("first push: %d uploads, want %d (layers + config)", got, want)
	}

	// Docker pulls it (straight from the registry) and runs it.
	d.Docker(t, "rmi", "regpush:1")
	direct := reg.host + "/team/regpush:1"
	d.Docker(t, "pull", direct)
	checkSameImage(t, d, direct, id, layers, wantRun)
	if out := d.Docker(t, "image", "inspect", "-f", "{{json .RepoDigests}}", direct); !strings.Contains(out, res.Digest) {
		t.Errorf("docker's repo digest %s does not name the pushed digest %s", out, res.Digest)
	}

	// Again: nothing uploaded (layers neither compressed nor sent).
	px.reset()
	text := dockertest.MustImgtool(t, "--root", store, "push", "regpush:1", ref)
	if px.uploads.Load() != 0 || px.blobPuts.Load() != 0 {
		t.Errorf("second push uploaded %d blobs:\n%s", px.uploads.Load(), text)
	}
	if !strings.Contains(text, "Layer already exists") || !strings.Contains(text, "digest: "+res.Digest) {
		t.Errorf("second push output:\n%s", text)
	}

	// Another repository of the same registry: layers are mounted.
	px.reset()
	var res2 pushJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "push", "--json", "regpush:1", px.host+"/elsewhere/regpush:2"), &res2)
	if px.uploads.Load() > 1 { // at most the config
		t.Errorf("push to another repository uploaded %d blobs", px.uploads.Load())
	}
	for _, l := range res2.Layers {
		if l.Status != "mounted" || l.From != "team/regpush" {
			t.Errorf("layer not mounted: %+v", l)
		}
	}
	if res2.Digest != res.Digest {
		t.Errorf("same image, different manifest digest: %s vs %s", res2.Digest, res.Digest)
	}
}

// docker push, imgtool pull: same image ID and diff_ids; pushing it back
// uploads no layer; pull -o writes an archive docker loads.
func TestRegistryDockerPushImgtoolPull(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	px := newProxy(t, reg.host)
	d := dockertest.Shared(t)
	id := richImage(t, d, "regpull:1", "regpull")
	layers := rootFSLayers(t, d, "regpull:1")
	direct := reg.host + "/dockerpushed:1"
	d.Docker(t, "tag", "regpull:1", direct)
	d.Docker(t, "push", direct)
	dockerDigest := d.Docker(t, "image", "inspect", "-f", "{{index .RepoDigests 0}}", direct)

	store := newStore(t)
	ref := px.host + "/dockerpushed:1"
	var res pullJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "pull", "--json", ref), &res)
	if len(res.Images) != 1 || res.Images[0].ID != id || !equalStrings(res.Images[0].DiffIDs, layers) {
		t.Fatalf("pulled %+v, want id %s diff_ids %v", res, id, layers)
	}
	if !strings.HasSuffix(dockerDigest, "@"+res.Digest) {
		t.Errorf("pulled digest %s, docker pushed %s", res.Digest, dockerDigest)
	}
	images := dockertest.MustImgtool(t, "--root", store, "images", "--no-trunc")
	if !strings.Contains(images, px.host+"/dockerpushed") || !strings.Contains(images, strings.TrimPrefix(id, "sha256:")) {
		t.Errorf("imgtool images after pull:\n%s", images)
	}

	// Pull again: layers reused, nothing fetched but manifest and config.
	listing := dockertest.StoreListing(store)
	dockertest.MustImgtool(t, "--root", store, "pull", ref)
	if after := dockertest.StoreListing(store); after != listing {
		t.Errorf("second pull changed the store:\n%s", dockertest.ListingDiff(listing, after))
	}

	// Push back: no layer uploaded, the manifest is the same docker pushed.
	px.reset()
	var pres pushJSON
	decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "push", "--json", ref), &pres)
	if px.uploads.Load() != 0 || px.blobPuts.Load() != 0 {
		t.Errorf("push after pull uploaded %d blobs (%d commits)", px.uploads.Load(), px.blobPuts.Load())
	}
	for _, l := range pres.Layers {
		if l.Status != "exists" {
			t.Errorf("layer %+v", l)
		}
	}

	// pull -o: an archive docker loads as the same image.
	arch := filepath.Join(t.TempDir(), "pulled.tar")
	dockertest.MustImgtool(t, "pull", "-o", arch, ref)
	d.Docker(t, "rmi", "regpull:1", direct)
	out := d.Docker(t, "load", "-i", arch)
	if !strings.Contains(out, "dockerpushed:1") {
		t.Errorf("docker load: %s", out)
	}
	checkSameImage(t, d, px.host+"/dockerpushed:1", id, layers, "")
}

// A two-platform index (built with ggcr, written as an OCI layout) pushes
// byte for byte and each platform pulls back with the same digests.
func TestRegistryIndexRoundTrip(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	amd, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	arm, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	wantIdx, _ := idx.Digest()
	ref := reg.host + "/multi:1"
	var res pushJSON
	decodeJSON(t, dockertest.MustImgtool(t, "push", "--json", "oci:"+dir, ref), &res)
	if res.Digest != wantIdx.String() || len(res.Manifests) != 2 {
		t.Fatalf("pushed %+v, want index %s", res, wantIdx)
	}
	store := newStore(t)
	for _, c := range []struct {
		platform string
		img      v1.Image
	}{{"linux/amd64", amd}, {"linux/arm64", arm}} {
		wantM, _ := c.img.Digest()
		wantID, _ := c.img.ConfigName()
		var pr pullJSON
		decodeJSON(t, dockertest.MustImgtool(t, "--root", store, "pull", "--json", "--platform", c.platform, ref), &pr)
		if pr.Digest != wantIdx.String() || len(pr.Images) != 1 || pr.Images[0].Manifest != wantM.String() || pr.Images[0].ID != wantID.String() {
			t.Errorf("%s: pulled %+v, want index %s manifest %s id %s", c.platform, pr, wantIdx, wantM, wantID)
		}
	}
	r := dockertest.Imgtool(t, "--root", store, "pull", "--platform", "linux/s390x", ref)
	if r.OK() || !strings.Contains(r.Stderr, "linux/s390x") {
		t.Errorf("missing platform: %s", r)
	}
	oneLine(t, "pull missing platform", r)
}

// Wrong password, missing repository, a registry dying mid-push and
// mid-pull: clear one-line errors, the store unchanged.
func TestRegistryErrors(t *testing.T) {
	reg := startRegistry(t, "user", "s3cret")
	store := newStore(t)
	base := filepath.Join(t.TempDir(), "base.tar")
	writeArchive(t, base, synthThree(t, "regerr:1", "regerr"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", base)
	listing := dockertest.StoreListing(store)
	unchanged := func(what string) {
		t.Helper()
		if after := dockertest.StoreListing(store); after != listing {
			t.Errorf("%s changed the store:\n%s", what, dockertest.ListingDiff(listing, after))
			listing = after
		}
	}
	ref := reg.host + "/secret/app:1"

	isolateDockerConfig(t, map[string]string{reg.host: "user:wrong"})
	r := dockertest.Imgtool(t, "--root", store, "push", "regerr:1", ref)
	if r.OK() || !strings.Contains(r.Stderr, "unauthorized") || !strings.Contains(r.Stderr, ref) {
		t.Errorf("push with a wrong password: %s", r)
	}
	oneLine(t, "push wrong password", r)
	unchanged("push with a wrong password")
	r = dockertest.Imgtool(t, "--root", store, "pull", ref)
	if r.OK() || !strings.Contains(r.Stderr, "unauthorized") {
		t.Errorf("pull with a wrong password: %s", r)
	}
	unchanged("pull with a wrong password")

	isolateDockerConfig(t, map[string]string{reg.host: "user:s3cret"})
	dockertest.MustImgtool(t, "--root", store, "push", "regerr:1", ref)
	listing = dockertest.StoreListing(store) // push records distribution metadata

	for _, missing := range []string{reg.host + "/secret/app:nope", reg.host + "/no/such/repo:1"} {
		r = dockertest.Imgtool(t, "--root", store, "pull", missing)
		if r.OK() || !strings.Contains(r.Stderr, missing) || !strings.Contains(r.Stderr, "not found") {
			t.Errorf("pull %s: %s", missing, r)
		}
		oneLine(t, "pull missing", r)
		unchanged("pull of a missing reference")
	}

	// Search works with credentials.
	out := dockertest.MustImgtool(t, "search", "--registry", reg.host, "secret")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "secret/app") {
		t.Errorf("search:\n%s", out)
	}

	// The registry dies while the first layer uploads.
	px := newProxy(t, reg.host)
	var killed atomic.Bool
	px.onRequest = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch || killed.Load() {
			if killed.CompareAndSwap(false, true) {
				reg.kill()
				go px.srv.Listener.Close()
			}
			panic(http.ErrAbortHandler) // drop the connection
		}
		return false
	}
	isolateDockerConfig(t, map[string]string{px.host: "user:s3cret"})
	fresh := filepath.Join(t.TempDir(), "fresh.tar")
	writeArchive(t, fresh, synthThree(t, "regerr:2", "regerr-fresh"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", fresh)
	listing = dockertest.StoreListing(store)
	r = dockertest.Imgtool(t, "--root", store, "push", "regerr:2", px.host+"/secret/app:2")
	if r.OK() || !strings.Contains(r.Stderr, px.host) {
		t.Errorf("push to a dying registry: %s", r)
	}
	oneLine(t, "push to a dying registry", r)
	t.Logf("dying registry: %s", strings.TrimSpace(r.Stderr))
	unchanged("a failed push")

	// A registry that dies while a layer is pulled.
	reg2 := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	dockertest.MustImgtool(t, "--root", store, "push", "regerr:2", reg2.host+"/pulled:1")
	px2 := newProxy(t, reg2.host)
	var blobs atomic.Int64
	var killed2 atomic.Bool
	px2.onRequest = func(w http.ResponseWriter, r *http.Request) bool {
		if killed2.Load() || r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && blobs.Add(1) > 1 {
			if killed2.CompareAndSwap(false, true) {
				reg2.kill()
				go px2.srv.Listener.Close()
			}
			panic(http.ErrAbortHandler)
		}
		return false
	}
	empty := newStore(t)
	dockertest.MustImgtool(t, "--root", empty, "load", "-i", base) // a store with something in it
	emptyListing := dockertest.StoreListing(empty)
	r = dockertest.Imgtool(t, "--root", empty, "pull", px2.host+"/pulled:1")
	if r.OK() || !strings.Contains(r.Stderr, px2.host+"/pulled:1") {
		t.Errorf("pull from a dying registry: %s", r)
	}
	oneLine(t, "pull from a dying registry", r)
	t.Logf("dying registry (pull): %s", strings.TrimSpace(r.Stderr))
	if after := dockertest.StoreListing(empty); after != emptyListing {
		t.Errorf("a failed pull changed the store:\n%s", dockertest.ListingDiff(emptyListing, after))
	}
}
