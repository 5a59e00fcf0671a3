package transfer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/store"
	_ "github.com/imgtool/imgtool/store/overlay2" // the overlay2 backend registers itself with store.Open
	"github.com/imgtool/imgtool/tarball"
)

const fixture = "../testdata/archive/docker20.10-save.tar"

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		err  bool
	}{
		{"docker-archive:a.tar", Ref{Transport: "docker-archive", Path: "a.tar"}, false},
		{"docker-archive:a.tar:app:1", Ref{Transport: "docker-archive", Path: "a.tar", Name: "app:1"}, false},
		{"docker-archive:-", Ref{Transport: "docker-archive", Path: "-"}, false},
		{"oci-archive:/x/y.tar:latest", Ref{Transport: "oci-archive", Path: "/x/y.tar", Name: "latest"}, false},
		{"oci:dir", Ref{Transport: "oci", Path: "dir"}, false},
		{"oci:dir:@sha256:abc", Ref{Transport: "oci", Path: "dir", Name: "@sha256:abc"}, false},
		{"oci:-", Ref{}, true},
		{"oci:", Ref{}, true},
		{"store:app:1", Ref{Transport: "store", Name: "app:1"}, false},
		{"app:1", Ref{Transport: "store", Name: "app:1"}, false},
		{"localhost:5000/app:1", Ref{Transport: "store", Name: "localhost:5000/app:1"}, false},
		{"sha256:0123", Ref{Transport: "store", Name: "sha256:0123"}, false},
		{"busybox", Ref{Transport: "store", Name: "busybox"}, false},
		{"", Ref{}, true},
	} {
		got, err := ParseRef(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// A transport registered by another package (the registry) plugs in.
func TestRegisterTransport(t *testing.T) {
	RegisterTransport(&Transport{
		Name:  "test-docker",
		Split: func(arg string) (string, string, error) { return "", strings.TrimPrefix(arg, "//"), nil },
	})
	defer func() {
		transportsMu.Lock()
		delete(transports, "test-docker")
		transportsMu.Unlock()
	}()
	r, err := ParseRef("test-docker://reg.example/app:1")
	if err != nil || !reflect.DeepEqual(r, Ref{Transport: "test-docker", Name: "reg.example/app:1"}) {
		t.Fatalf("%+v %v", r, err)
	}
	_, err = Convert(context.Background(), "test-docker://x", "oci:/nonexistent", &Env{}, ConvertOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Fatalf("err %v", err)
	}
}

func fileSHA(t testing.TB, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// imageIDs lists (config ID, diff_ids) of every image reachable from a location.
func imageIDs(t testing.TB, loc string) []string {
	t.Helper()
	r, err := ParseRef(loc)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := LookupTransport(r.Transport)
	src, err := tr.Source(context.Background(), r, &Env{})
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	defer src.Close()
	var out []string
	add := func(img v1.Image) {
		cf, _ := img.ConfigFile()
		id, _ := img.ConfigName()
		out = append(out, id.Hex[:12]+" "+strings.Join(hashes(cf.RootFS.DiffIDs), ","))
	}
	for _, it := range src.Items() {
		if it.Image != nil {
			add(it.Image)
			continue
		}
		pis, err := archive.IndexImages(it.Index)
		if err != nil {
			t.Fatal(err)
		}
		for _, pi := range pis {
			add(pi.Image)
		}
	}
	return out
}

func hashes(hs []v1.Hash) []string {
	var s []string
	for _, h := range hs {
		s = append(s, h.Hex[:12])
	}
	return s
}

func convert(t testing.TB, src, dst string, opts ConvertOptions) {
	t.Helper()
	if _, err := Convert(context.Background(), src, dst, &Env{}, opts); err != nil {
		t.Fatalf("convert %s %s: %v", src, dst, err)
	}
}

// Every archive sink from the docker fixture, and back, keeps images and
// diff_ids; the same input twice gives identical bytes.
func TestConvertPairs(t *testing.T) {
	dir := t.TempDir()
	want := imageIDs(t, "docker-archive:"+fixture)
	if len(want) != 2 {
		t.Fatalf("fixture: %v", want)
	}
	sinks := []struct {
		loc  string
		opts ConvertOptions
	}{
		{"docker-archive:" + dir + "/d.tar", ConvertOptions{Keep: true}},
		{"docker-archive:" + dir + "/legacy.tar", ConvertOptions{Keep: true, Legacy: true}},
		{"oci-archive:" + dir + "/o.tar", ConvertOptions{Keep: true}},
		{"oci-archive:" + dir + "/gz.tar", ConvertOptions{Compression: tarball.Gzip}},
		{"oci-archive:" + dir + "/gz9.tar", ConvertOptions{Compression: tarball.Gzip, Level: 9}},
		{"oci-archive:" + dir + "/zst.tar", ConvertOptions{Compression: tarball.Zstd}},
		{"oci:" + dir + "/lay", ConvertOptions{Keep: true}},
		{"oci:" + dir + "/layzst", ConvertOptions{Compression: tarball.Zstd, Level: 3}},
	}
	for _, s := range sinks {
		convert(t, "docker-archive:"+fixture, s.loc, s.opts)
		if got := imageIDs(t, s.loc); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v, want %v", s.loc, got, want)
		}
		r, _ := ParseRef(s.loc)
		if r.Transport != "oci" {
			first := fileSHA(t, r.Path)
			convert(t, "docker-archive:"+fixture, s.loc, s.opts)
			if fileSHA(t, r.Path) != first {
				t.Fatalf("%s: not deterministic", s.loc)
			}
		}
		// and every source to every other archive form
		for _, back := range []string{"docker-archive:" + dir + "/back.tar", "oci-archive:" + dir + "/back-oci.tar"} {
			convert(t, s.loc, back, ConvertOptions{Keep: true})
			if got := imageIDs(t, back); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s -> %s: %v", s.loc, back, got)
			}
		}
	}
	// oci -> oci keeps the layout's digests (blobs copied as stored)
	convert(t, "oci:"+dir+"/layzst", "oci:"+dir+"/layzst2", ConvertOptions{Keep: true})
	if a, b := fileSHA(t, dir+"/layzst/index.json"), fileSHA(t, dir+"/layzst2/index.json"); a != b {
		t.Fatal("oci -> oci changed index.json")
	}
	// gzip -> gzip is copied, not recompressed, even at another level
	convert(t, "oci-archive:"+dir+"/gz.tar", "oci-archive:"+dir+"/gz-again.tar", ConvertOptions{Compression: tarball.Gzip, Level: 1})
	if fileSHA(t, dir+"/gz.tar") != fileSHA(t, dir+"/gz-again.tar") {
		t.Fatal("gzip layers were recompressed")
	}
	// gzip -> none decompresses
	convert(t, "oci-archive:"+dir+"/gz.tar", "oci-archive:"+dir+"/plain.tar", ConvertOptions{Compression: tarball.None})
	a, err := archive.Open(dir + "/plain.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, e := range a.Images() {
		ls, _ := e.Image.Layers()
		for _, l := range ls {
			if mt, _ := l.MediaType(); mt != "application/vnd.oci.image.layer.v1.tar" {
				t.Fatalf("media type %s", mt)
			}
		}
	}
}

func TestConvertStdio(t *testing.T) {
	var out bytes.Buffer
	in, _ := os.Open(fixture)
	defer in.Close()
	env := &Env{Stdin: in, Stdout: &out}
	if _, err := Convert(context.Background(), "docker-archive:-:arch-fix/base:1", "oci-archive:-:latest", env, ConvertOptions{Keep: true}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "o.tar")
	os.WriteFile(p, out.Bytes(), 0o644)
	items := imageIDs(t, "oci-archive:"+p)
	if len(items) != 1 {
		t.Fatalf("%v", items)
	}
	a, _ := archive.Open(p)
	defer a.Close()
	if r := a.Items()[0]; !reflect.DeepEqual(r.RefNames, []string{"latest"}) || len(r.Tags) != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestSelectItem(t *testing.T) {
	a, err := archive.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var items []item.Item
	for _, r := range a.Items() {
		items = append(items, item.Item{Image: r.Image, Tags: r.Tags, Digest: r.Digest})
	}
	id1, _ := items[1].Image.ConfigName()
	for sel, want := range map[string]int{
		"1": 1, "0": 0, "arch-fix/base:1": 1, "arch-fix/app:2": 0, "reg.example:5000/ns/app:latest": 0,
		"@" + id1.String(): 1, id1.String(): 1,
	} {
		it, err := SelectItem(items, sel)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if it.Image != items[want].Image {
			t.Fatalf("%s: wrong image", sel)
		}
	}
	for _, sel := range []string{"2", "nope:1", "@sha256:" + strings.Repeat("0", 64)} {
		if _, err := SelectItem(items, sel); err == nil {
			t.Fatalf("%s: no error", sel)
		}
	}
}

// An OCI :REF is a ref name, tag or digest; a number that names no ref
// fails (skopeo's oci: transport has no positions), where docker-archive:
// numbers its images.
func TestSelectItemOCIRefIsNoPosition(t *testing.T) {
	a, err := archive.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	items := []item.Item{{Image: a.Items()[0].Image, RefNames: []string{"latest"}}, {Image: a.Items()[1].Image, RefNames: []string{"7"}}}
	for _, sel := range []string{"0", "1", "@0"} {
		if _, err := selectItem(items, sel, false); err == nil {
			t.Errorf("oci :%s picked an image by position", sel)
		}
	}
	for sel, want := range map[string]int{"latest": 0, "7": 1} {
		if it, err := selectItem(items, sel, false); err != nil || it.Image != items[want].Image {
			t.Errorf("oci :%s: %v", sel, err)
		}
	}
	if it, err := selectItem(items, "@1", true); err != nil || it.Image != items[1].Image {
		t.Errorf("docker-archive :@1: %v", err)
	}
}

// ---- multi-platform ---------------------------------------------------------------

type layoutFile struct {
	name string
	body []byte
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func layerTar(t testing.TB, name, content string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	return b.Bytes()
}

func gz(b []byte) []byte {
	var o bytes.Buffer
	w := gzip.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multiPlatformLayout writes a buildx-style layout: index.json → an image
// index with amd64 and arm64 images (gzip layers; the arm64 config has its
// architecture set) and an attestation manifest. dropArm64 leaves the
// arm64 layer blob out.
func multiPlatformLayout(t testing.TB, dir string, dropArm64 bool) (idxDigest v1.Hash, man map[string]v1.Hash) {
	t.Helper()
	var files []layoutFile
	blob := func(b []byte) v1.Hash {
		files = append(files, layoutFile{"blobs/sha256/" + sha(b).Hex, b})
		return sha(b)
	}
	man = map[string]v1.Hash{}
	var descs []any
	base := layerTar(t, "etc/base", "base\n")
	for _, arch := range []string{"amd64", "arm64"} {
		top := layerTar(t, "etc/arch", arch+"\n")
		cfg := mustJSON(t, map[string]any{"architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
			"config": map[string]any{"Cmd": []string{"/bin/sh"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sha(base).String(), sha(top).String()}}})
		var ls []any
		for i, l := range [][]byte{base, top} {
			g := gz(l)
			if dropArm64 && arch == "arm64" && i == 1 {
				ls = append(ls, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(g).String(), "size": len(g)})
				continue
			}
			d := blob(g)
			ls = append(ls, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d.String(), "size": len(g)})
		}
		m := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(cfg).String(), "size": len(cfg)},
			"layers": ls})
		man[arch] = blob(m)
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man[arch].String(), "size": len(m),
			"platform": map[string]string{"os": "linux", "architecture": arch}})
	}
	// an attestation manifest for amd64
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`)
	acfg := mustJSON(t, map[string]any{"architecture": "unknown", "os": "unknown", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sha(stmt).String()}}})
	am := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(acfg).String(), "size": len(acfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.in-toto+json", "digest": blob(stmt).String(), "size": len(stmt)}}})
	man["attestation"] = blob(am)
	descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man["attestation"].String(), "size": len(am),
		"platform":    map[string]string{"os": "unknown", "architecture": "unknown"},
		"annotations": map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": man["amd64"].String()}})
	idx := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs})
	idxDigest = blob(idx)
	top := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{
		map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idxDigest.String(), "size": len(idx),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}}})
	files = append(files, layoutFile{"index.json", top}, layoutFile{"oci-layout", []byte(`{"imageLayoutVersion": "1.0.0"}`)})
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return idxDigest, man
}

func rootIndex(t testing.TB, loc string) (v1.Hash, *v1.IndexManifest) {
	t.Helper()
	r, _ := ParseRef(loc)
	tr, _ := LookupTransport(r.Transport)
	src, err := tr.Source(context.Background(), r, &Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	items := src.Items()
	if len(items) != 1 || items[0].Index == nil {
		t.Fatalf("%s: %d items, want one index", loc, len(items))
	}
	d, _ := items[0].Index.Digest()
	im, _ := items[0].Index.IndexManifest()
	return d, im
}

func TestMultiPlatformIndex(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	idxD, man := multiPlatformLayout(t, src, false)
	// oci -> oci-archive -> oci: identical digests, bytes of index.json too
	convert(t, "oci:"+src, "oci-archive:"+dir+"/m.tar", ConvertOptions{Keep: true})
	convert(t, "oci-archive:"+dir+"/m.tar", "oci:"+dir+"/back", ConvertOptions{Keep: true})
	for _, loc := range []string{"oci:" + src, "oci-archive:" + dir + "/m.tar", "oci:" + dir + "/back"} {
		d, im := rootIndex(t, loc)
		if d != idxD || len(im.Manifests) != 3 {
			t.Fatalf("%s: index %s with %d manifests", loc, d, len(im.Manifests))
		}
	}
	// the same again is byte-identical
	convert(t, "oci:"+src, "oci-archive:"+dir+"/m2.tar", ConvertOptions{Keep: true})
	if fileSHA(t, dir+"/m.tar") != fileSHA(t, dir+"/m2.tar") {
		t.Fatal("not deterministic")
	}
	// --platform keeps exactly one (attestations go)
	convert(t, "oci:"+src+":latest", "oci:"+dir+"/arm", ConvertOptions{Keep: true, Platforms: []v1.Platform{{OS: "linux", Architecture: "arm64"}}})
	_, im := rootIndex(t, "oci:"+dir+"/arm")
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != man["arm64"] || im.Manifests[0].Platform.Architecture != "arm64" {
		t.Fatalf("%+v", im.Manifests)
	}
	// one platform by digest gives that image alone
	convert(t, "oci:"+src+":@"+man["amd64"].String(), "oci-archive:"+dir+"/amd.tar", ConvertOptions{Keep: true})
	a, _ := archive.Open(dir + "/amd.tar")
	if rs := a.Items(); len(rs) != 1 || rs[0].Digest != man["amd64"] || rs[0].Image == nil {
		t.Fatalf("%+v", rs)
	}
	a.Close()
	// recompressing rewrites manifests and the index, keeping diff_ids
	convert(t, "oci:"+src, "oci:"+dir+"/zst", ConvertOptions{Compression: tarball.Zstd})
	d, im := rootIndex(t, "oci:"+dir+"/zst")
	if d == idxD || len(im.Manifests) != 3 || im.Manifests[2].Digest != man["attestation"] {
		t.Fatalf("recompressed index %s %+v", d, im.Manifests)
	}
	if got, want := imageIDs(t, "oci:"+dir+"/zst"), imageIDs(t, "oci:"+src); !reflect.DeepEqual(got, want) {
		t.Fatalf("%v vs %v", got, want)
	}
	// docker-archive: one image per platform, tags on the host's
	convert(t, "oci:"+src, "docker-archive:"+dir+"/d.tar:multi:1", ConvertOptions{Keep: true})
	a, err := archive.Open(dir + "/d.tar")
	if err != nil {
		t.Fatal(err)
	}
	es := a.Images()
	if len(es) != 2 {
		t.Fatalf("%d images", len(es))
	}
	for _, e := range es {
		tagged := len(e.Tags) == 1 && e.Tags[0].Context().RepositoryStr() == "library/multi"
		if host := e.Platform.Architecture == runtime.GOARCH; host != tagged && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") {
			t.Fatalf("%s tags %v", e.Platform.Architecture, e.Tags)
		}
	}
	a.Close()
}

func TestMissingPlatform(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	_, man := multiPlatformLayout(t, src, true)
	_, err := Convert(context.Background(), "oci:"+src, "oci:"+dir+"/out", &Env{}, ConvertOptions{Keep: true})
	if err == nil || !strings.Contains(err.Error(), "platform linux/arm64") || !errors.Is(err, archive.ErrMissing) {
		t.Fatalf("err %v", err)
	}
	var skipped []string
	convert(t, "oci:"+src, "oci:"+dir+"/out", ConvertOptions{Keep: true, SkipMissingPlatforms: true,
		Skipped: func(p string, _ v1.Hash) { skipped = append(skipped, p) }})
	_, im := rootIndex(t, "oci:"+dir+"/out")
	if len(im.Manifests) != 2 || im.Manifests[0].Digest != man["amd64"] || !reflect.DeepEqual(skipped, []string{"platform linux/arm64"}) {
		t.Fatalf("%+v %v", im.Manifests, skipped)
	}
	// asking only for the present platform is fine
	convert(t, "oci:"+src, "docker-archive:"+dir+"/amd.tar", ConvertOptions{Keep: true, Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}}})
	// asking for an absent one names it
	_, err = Convert(context.Background(), "oci:"+src, "docker-archive:"+dir+"/x.tar", &Env{}, ConvertOptions{Platforms: []v1.Platform{{OS: "linux", Architecture: "s390x"}}})
	if err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("err %v", err)
	}
}

// ---- the store ----------------------------------------------------------------------

func newStore(t *testing.T) *Env { return newStoreAt(t, t.TempDir()) }

func newStoreAt(t *testing.T, root string) *Env {
	if os.Geteuid() != 0 {
		t.Skip("the store needs root")
	}
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Store: func() (store.Store, error) { return st, nil }}
}

func TestConvertStore(t *testing.T) {
	env := newStore(t)
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := Convert(ctx, "docker-archive:"+fixture+":arch-fix/app:2", "store:", env, ConvertOptions{Keep: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(ctx, "arch-fix/app:2", "oci:"+dir+"/lay", env, ConvertOptions{Keep: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(ctx, "store:arch-fix/app:2", "docker-archive:"+dir+"/d.tar", env, ConvertOptions{Keep: true}); err != nil {
		t.Fatal(err)
	}
	want := imageIDs(t, "docker-archive:"+fixture)[:1]
	for _, loc := range []string{"oci:" + dir + "/lay", "docker-archive:" + dir + "/d.tar"} {
		if got := imageIDs(t, loc); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v, want %v", loc, got, want)
		}
	}
	var out bytes.Buffer
	if _, err := Verify(ctx, "arch-fix/app:2", env, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "layerdb ok") {
		t.Fatal(out.String())
	}
	// a multi-platform index into the store takes the host's platform, or the one asked
	src := filepath.Join(dir, "multi")
	multiPlatformLayout(t, src, false)
	ws, err := Convert(ctx, "oci:"+src, "store:multi:1", env, ConvertOptions{Keep: true, Platforms: []v1.Platform{{OS: "linux", Architecture: "arm64"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || !reflect.DeepEqual(ws[0].Platforms, []string{"linux/arm64"}) || !reflect.DeepEqual(ws[0].Tags, []string{"multi:1"}) {
		t.Fatalf("%+v", ws)
	}
	if _, err := Convert(ctx, "store:multi:1", "store:x:1", env, ConvertOptions{}); err == nil {
		t.Fatal("store to store")
	}
}

// ---- verify -----------------------------------------------------------------------

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	_, man := multiPlatformLayout(t, src, false)
	var out bytes.Buffer
	res, err := Verify(context.Background(), "oci:"+src, &Env{}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Images != 3 || res.Layers != 5 || !strings.Contains(out.String(), "chain sha256:") {
		t.Fatalf("%+v\n%s", res, out.String())
	}
	convert(t, "docker-archive:"+fixture, "docker-archive:"+dir+"/d.tar", ConvertOptions{})
	out.Reset()
	if _, err := Verify(context.Background(), "docker-archive:"+dir+"/d.tar", &Env{}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// corrupt the arm64 top layer: same size, other bytes
	var bad v1.Hash
	m, _ := os.ReadFile(filepath.Join(src, "blobs/sha256", man["arm64"].Hex))
	var mf v1.Manifest
	json.Unmarshal(m, &mf)
	bad = mf.Layers[1].Digest
	p := filepath.Join(src, "blobs/sha256", bad.Hex)
	b, _ := os.ReadFile(p)
	b[len(b)-9] ^= 0xff // gzip trailer: the CRC
	os.WriteFile(p, b, 0o644)
	out.Reset()
	_, err = Verify(context.Background(), "oci:"+src, &Env{}, &out)
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	// a diff_id mismatch is named too
	cfgPath := filepath.Join(src, "blobs/sha256", mf.Config.Digest.Hex)
	_ = cfgPath
}

// A convert into a new OCI layout that fails (here a layer that does not
// match its diff_id) leaves no half-made layout directory behind.
func TestFailedConvertLeavesNoLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	_, err := Convert(context.Background(), "docker-archive:../testdata/bad/load-diffid-mismatch.tar", "oci:"+dir, &Env{}, ConvertOptions{Compression: Gzip})
	if err == nil {
		t.Fatal("convert of a layer that does not match its diff_id succeeded")
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Errorf("a failed convert left %s behind (%v); error was %v", dir, serr, err)
	}
}

// A store layer whose file was changed behind imgtool's back: save fails
// with one line naming the layer (same size: the diff ID check) or the file
// (size changed), leaves no archive, and Verify names the changed file.
func TestSaveFromModifiedStore(t *testing.T) {
	root := t.TempDir()
	env := newStoreAt(t, root)
	ctx := context.Background()
	if _, err := Convert(ctx, "docker-archive:"+fixture+":arch-fix/app:2", "store:", env, ConvertOptions{Keep: true}); err != nil {
		t.Fatal(err)
	}
	victim := firstStoreFile(t, root)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.tar")
	save := func() error {
		_, err := Convert(ctx, "store:arch-fix/app:2", "docker-archive:"+out, env, ConvertOptions{Keep: true})
		if _, serr := os.Stat(out); !os.IsNotExist(serr) {
			t.Errorf("a failed save left %s (%v)", out, serr)
		}
		return err
	}
	b[0] ^= 0xff
	os.WriteFile(victim, b, 0o644)
	if err := save(); err == nil || !strings.Contains(err.Error(), "content does not match its diff_id") {
		t.Fatalf("same-size change: err = %v", err)
	}
	var report bytes.Buffer
	if _, err := Verify(ctx, "arch-fix/app:2", env, &report); err == nil || !strings.Contains(report.String()+err.Error(), filepath.Base(victim)) {
		t.Errorf("Verify does not name %s: %v\n%s", filepath.Base(victim), err, report.String())
	}
	os.WriteFile(victim, append(b, 'x'), 0o644)
	if err := save(); err == nil || !strings.Contains(err.Error(), "bytes on disk, the layer recorded") || !strings.Contains(err.Error(), filepath.Base(victim)) {
		t.Fatalf("size change: err = %v", err)
	}
}

// firstStoreFile is a non-empty regular file in some layer's diff dir.
func firstStoreFile(t *testing.T, root string) string {
	dirs, _ := filepath.Glob(filepath.Join(root, "overlay2", "*", "diff"))
	for _, d := range dirs {
		var found string
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if fi, ierr := e.Info(); err == nil && ierr == nil && fi.Mode().IsRegular() && fi.Size() > 0 && found == "" {
				found = p
			}
			return nil
		})
		if found != "" {
			return found
		}
	}
	t.Fatal("no layer file in the store")
	return ""
}
