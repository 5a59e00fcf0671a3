package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/transfer"
)

// ---- a store-like image: uncompressed layers, config with diff_ids -----------

type rawLayer struct{ data []byte }

func (l rawLayer) Digest() (v1.Hash, error)            { return imageid.FromBytes(l.data), nil }
func (l rawLayer) DiffID() (v1.Hash, error)            { return imageid.FromBytes(l.data), nil }
func (l rawLayer) Size() (int64, error)                { return int64(len(l.data)), nil }
func (l rawLayer) MediaType() (types.MediaType, error) { return types.OCIUncompressedLayer, nil }
func (l rawLayer) Compressed() (io.ReadCloser, error)  { return l.Uncompressed() }
func (l rawLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}

type rawImage struct {
	v1.Image // nil: only what Push uses is implemented
	config   []byte
	layers   []rawLayer
}

func (m *rawImage) RawConfigFile() ([]byte, error) { return m.config, nil }
func (m *rawImage) ConfigName() (v1.Hash, error)   { return imageid.FromBytes(m.config), nil }
func (m *rawImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(m.layers))
	for i, l := range m.layers {
		out[i] = l
	}
	return out, nil
}
func (m *rawImage) Manifest() (*v1.Manifest, error)     { return nil, errors.New("no manifest") }
func (m *rawImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func mkTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	return b.Bytes()
}

func mkRawImage(t *testing.T, marker string, n int) *rawImage {
	t.Helper()
	img := &rawImage{}
	var diffIDs []string
	for i := 0; i < n; i++ {
		data := mkTar(t, map[string]string{"f" + string(rune('a'+i)): strings.Repeat(marker, 1000*(i+1))})
		img.layers = append(img.layers, rawLayer{data})
		diffIDs = append(diffIDs, imageid.FromBytes(data).String())
	}
	cfg := map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	img.config, _ = json.Marshal(cfg)
	return img
}

// ---- a registry with request counting ----------------------------------------

type testRegistry struct {
	srv     *httptest.Server
	host    string
	uploads atomic.Int64 // POST .../blobs/uploads/
	mu      sync.Mutex
	corrupt map[string]bool // blob digests served corrupted
	user    string
	pass    string
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{corrupt: map[string]bool{}}
	h := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr.user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != tr.user || p != tr.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			tr.uploads.Add(1)
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			tr.mu.Lock()
			bad := tr.corrupt[d]
			tr.mu.Unlock()
			if bad {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				b := rec.Body.Bytes()
				if len(b) > 0 {
					b[len(b)/2] ^= 0xff
				}
				w.WriteHeader(rec.Code)
				w.Write(b)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func testOpts(t *testing.T) Options {
	return Options{Keychain: anon{}, Backoff: remote.Backoff{Duration: 1e6, Factor: 1, Steps: 1}, DataRoot: t.TempDir()}
}

type anon struct{}

func (anon) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

type basic struct{ u, p string }

func (b basic) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: b.u, Password: b.p}, nil
}

// ---- tests --------------------------------------------------------------------

func TestPushUncompressedThenPull(t *testing.T) {
	reg := newRegistry(t)
	opts := testOpts(t)
	img := mkRawImage(t, "x", 3)
	ref := reg.host + "/app:1"
	res, err := Push(context.Background(), ref, img, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 3 {
		t.Fatalf("layers: %+v", res.Layers)
	}
	for i, l := range res.Layers {
		if l.Status != "pushed" || l.MediaType != types.DockerLayer || l.DiffID != imageid.FromBytes(img.layers[i].data) {
			t.Errorf("layer %d: %+v", i, l)
		}
	}
	if got := reg.uploads.Load(); got != 4 { // 3 layers + config
		t.Errorf("uploads = %d, want 4", got)
	}
	// What a plain ggcr client sees.
	rimg, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := rimg.MediaType(); mt != types.DockerManifestSchema2 {
		t.Errorf("manifest media type %s", mt)
	}
	if d, _ := rimg.Digest(); d != res.Digest {
		t.Errorf("digest %s, result says %s", d, res.Digest)
	}
	if id, _ := rimg.ConfigName(); id != imageid.FromBytes(img.config) {
		t.Errorf("image ID changed: %s", id)
	}

	// Pull back through Source: same config, layers decompress to the originals.
	src, es, err := pulled(ref, opts, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || len(es[0].Tags) != 1 || es[0].Tags[0].String() != ref {
		t.Fatalf("entries %+v", es)
	}
	if src.Digest != res.Digest {
		t.Errorf("pull digest %s != push digest %s", src.Digest, res.Digest)
	}
	ls, _ := es[0].Image.Layers()
	for i, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, img.layers[i].data) {
			t.Fatalf("layer %d: err %v, equal %v", i, err, bytes.Equal(b, img.layers[i].data))
		}
	}
	if err := src.Record(); err != nil {
		t.Fatal(err)
	}

	// Pushing again: nothing uploaded, and (thanks to the metadata) nothing compressed.
	before := reg.uploads.Load()
	res2, err := Push(context.Background(), ref, img, opts)
	if err != nil {
		t.Fatal(err)
	}
	if reg.uploads.Load() != before {
		t.Errorf("second push uploaded %d blobs", reg.uploads.Load()-before)
	}
	if res2.Digest != res.Digest {
		t.Errorf("second push digest %s != %s", res2.Digest, res.Digest)
	}
	for _, l := range res2.Layers {
		if l.Status != "exists" {
			t.Errorf("second push layer %+v", l)
		}
	}
	// Without metadata the layers are compressed again, to the same bytes
	// (pgzip with fixed blocks is deterministic), and still not uploaded.
	opts.DataRoot = ""
	res3, err := Push(context.Background(), reg.host+"/other:1", img, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res3.Digest != res.Digest || reg.uploads.Load() != before {
		t.Errorf("push without metadata: digest %s (want %s), uploads %d", res3.Digest, res.Digest, reg.uploads.Load()-before)
	}
}

func TestPullCorruptBlob(t *testing.T) {
	reg := newRegistry(t)
	opts := testOpts(t)
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.host + "/rand:1"
	if err := remote.Write(mustRef(t, ref), img); err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	d, _ := ls[1].Digest()
	reg.corrupt[d.String()] = true
	_, es, err := pulled(ref, opts, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	pls, _ := es[0].Image.Layers()
	rc, err := pls[1].Uncompressed()
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if err == nil {
		t.Fatal("corrupt blob read without error")
	}
	t.Logf("error: %v", err)
	// The intact layer reads fine.
	rc, err = pls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
}

func TestIndexRoundTrip(t *testing.T) {
	reg := newRegistry(t)
	opts := testOpts(t)
	a, _ := random.Image(1024, 1)
	b, _ := random.Image(1024, 2)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: a, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: b, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref := reg.host + "/multi:1"
	res, err := PushIndex(context.Background(), ref, idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if res.Digest != want || len(res.Manifests) != 2 {
		t.Fatalf("pushed %s (%d manifests), want %s", res.Digest, len(res.Manifests), want)
	}
	for _, tc := range []struct {
		p   v1.Platform
		img v1.Image
	}{{v1.Platform{OS: "linux", Architecture: "amd64"}, a}, {v1.Platform{OS: "linux", Architecture: "arm64"}, b}} {
		src, es, err := pulled(ref, opts, []v1.Platform{tc.p}, false)
		if err != nil {
			t.Fatal(err)
		}
		if src.Digest != want {
			t.Errorf("index digest %s", src.Digest)
		}
		wd, _ := tc.img.Digest()
		wid, _ := tc.img.ConfigName()
		gid, _ := es[0].Image.ConfigName()
		if len(es) != 1 || es[0].Digest != wd || gid != wid {
			t.Errorf("%s: got manifest %s config %s, want %s %s", tc.p, es[0].Digest, gid, wd, wid)
		}
	}
	if _, _, err := pulled(ref, opts, []v1.Platform{{OS: "linux", Architecture: "s390x"}}, false); err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("missing platform: %v", err)
	}
	_, all, err := pulled(ref, opts, nil, true)
	if err != nil || len(all) != 2 {
		t.Fatalf("all platforms: %v", err)
	}
	// Pushing the entries again makes an index of the same images.
	var items []item.Item
	for _, e := range all {
		items = append(items, item.Item{Image: e.Image, Tags: e.Tags, Platform: e.Platform})
	}
	res2, err := PushItems(context.Background(), reg.host+"/multi2:1", items, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range res2.Manifests {
		if m.Digest != res.Manifests[i].Digest {
			t.Errorf("manifest %d: %s != %s", i, m.Digest, res.Manifests[i].Digest)
		}
	}
}

func TestErrors(t *testing.T) {
	reg := newRegistry(t)
	opts := testOpts(t)
	ref := reg.host + "/nothing:1"
	_, err := Open(context.Background(), ref, opts)
	var re *Error
	if !errors.As(err, &re) || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing manifest: %v", err)
	}
	reg.user, reg.pass = "user", "pass"
	opts.Keychain = basic{"user", "wrong"}
	_, err = Open(context.Background(), reg.host+"/x:1", opts)
	if err == nil || !strings.Contains(err.Error(), "unauthorized") || !strings.Contains(err.Error(), reg.host+"/x:1") {
		t.Errorf("wrong password (pull): %v", err)
	}
	_, err = Push(context.Background(), reg.host+"/x:1", mkRawImage(t, "e", 1), opts)
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("wrong password (push): %v", err)
	}
	opts.Keychain = basic{"user", "pass"}
	if _, err := Push(context.Background(), reg.host+"/x:1", mkRawImage(t, "e", 1), opts); err != nil {
		t.Errorf("right password: %v", err)
	}
	// A registry that is gone.
	reg.srv.Close()
	_, err = Push(context.Background(), reg.host+"/x:2", mkRawImage(t, "f", 1), opts)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "\n") {
		t.Errorf("dead registry: %v", err)
	}
}

func TestSearchCatalog(t *testing.T) {
	reg := newRegistry(t)
	opts := testOpts(t)
	for _, r := range []string{"team/app", "team/db", "other"} {
		if _, err := Push(context.Background(), reg.host+"/"+r+":1", mkRawImage(t, r, 1), opts); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Search(context.Background(), reg.host, "TEAM", 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "team/app" || res[1].Name != "team/db" {
		t.Errorf("search: %+v", res)
	}
}

// TestDistMetaDockerFormat checks the metadata store's own rules (idempotent
// add, Docker Hub naming, candidates by registry). Whether the files are the
// ones dockerd writes is checked against a real dockerd pulling from a local
// docker-registry: interop TestDistMetaMatchesDockerd.
func TestDistMetaDockerFormat(t *testing.T) {
	root := t.TempDir()
	m := openDistMeta(root)
	diff := imageid.FromBytes([]byte("a"))
	dg := imageid.FromBytes([]byte("b"))
	repo, _ := name.NewRepository("127.0.0.1:5000/app")
	if err := m.add(diff, dg, repo); err != nil {
		t.Fatal(err)
	}
	if err := m.add(diff, dg, repo); err != nil { // idempotent
		t.Fatal(err)
	}
	hub, _ := name.NewRepository("busybox")
	if sourceRepository(hub) != "docker.io/library/busybox" {
		t.Errorf("hub name %q", sourceRepository(hub))
	}
	got := m.byDiffID(diff)
	if len(got) != 1 || got[0].Digest != dg || got[0].SourceRepository != "127.0.0.1:5000/app" {
		t.Errorf("metadata %+v", got)
	}
	other, _ := name.NewRepository("127.0.0.1:5000/other")
	same, oth := m.candidates(diff, other)
	if len(same) != 0 || len(oth) != 1 {
		t.Errorf("candidates %v %v", same, oth)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pulled opens ref as the pipeline does and takes its images with the one
// selection policy (transfer.Select), an index expanded to its images.
func pulled(ref string, opts Options, platforms []v1.Platform, all bool) (*Opened, []item.Item, error) {
	o, err := Open(context.Background(), ref, opts)
	if err != nil {
		return nil, nil, err
	}
	items, err := transfer.Select(o.Items(), "", transfer.ConvertOptions{Platforms: platforms, AllPlatforms: all}, true)
	if err != nil {
		return nil, nil, err
	}
	var out []item.Item
	for _, it := range items {
		if it.Index == nil {
			out = append(out, it)
			continue
		}
		imgs, err := archive.IndexImages(it.Index)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, imgs...)
	}
	return o, out, nil
}
