package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/archive/internal/core"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const fixture2010 = "../testdata/archive/docker20.10-save.tar"

// Values of the committed fixture (see testdata/archive/README.md).
const (
	baseID = "0c276594ba331842953d71f106d8581ca46dd3d19abe0fe49c30c10fb544a86a"
	appID  = "b40c854997d9c3a35fe0d576adc1c1badf080881c8425552cf6e8595a987641c"
)

func TestReadDocker2010Legacy(t *testing.T) {
	a, err := Open(fixture2010)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	es := a.Images()
	if len(es) != 2 {
		t.Fatalf("%d images", len(es))
	}
	if got := tagStrings(es[0]); !reflect.DeepEqual(got, []string{"docker.io/arch-fix/app:2", "reg.example:5000/ns/app:latest"}) {
		t.Fatalf("tags %v", got)
	}
	if got := tagStrings(es[1]); !reflect.DeepEqual(got, []string{"docker.io/arch-fix/base:1"}) {
		t.Fatalf("tags %v", got)
	}
	for i, want := range []string{appID, baseID} {
		id, _ := es[i].Image.ConfigName()
		if id.Hex != want {
			t.Fatalf("image %d id %s", i, id)
		}
		raw, _ := es[i].Image.RawConfigFile()
		if sha(raw).Hex != want {
			t.Fatal("config bytes not verbatim")
		}
		if es[i].Digest != (v1.Hash{}) {
			t.Fatal("legacy archive has no manifest digest")
		}
		if es[i].Platform == nil || es[i].Platform.OS != "linux" || es[i].Platform.Architecture != "amd64" {
			t.Fatalf("platform %+v", es[i].Platform)
		}
		cf, _ := es[i].Image.ConfigFile()
		ls, _ := es[i].Image.Layers()
		for j, l := range ls {
			b := readAllRC(t, l.Uncompressed)
			if sha(b) != cf.RootFS.DiffIDs[j] {
				t.Fatalf("image %d layer %d content != diff_id", i, j)
			}
			if n, ok := l.(interface{ UncompressedSize() (int64, bool) }).UncompressedSize(); !ok || n != int64(len(b)) {
				t.Fatalf("UncompressedSize %d %v", n, ok)
			}
			if mt, _ := l.MediaType(); mt != "application/vnd.docker.image.rootfs.diff.tar" {
				t.Fatalf("media type %s", mt)
			}
			if d, _ := l.Digest(); d != cf.RootFS.DiffIDs[j] {
				t.Fatalf("digest of an uncompressed blob should be its diff id: %s", d)
			}
		}
	}
	// base:1's only layer is a symlink ../<v1id>/layer.tar to app's first layer
	bl, _ := es[1].Image.Layers()
	al, _ := es[0].Image.Layers()
	if !core.SameMember(bl[0], al[0]) {
		t.Fatal("symlinked shared layer not resolved to the same member")
	}
	m, err := es[0].Image.Manifest()
	if err != nil || m.Config.Digest.Hex != appID || len(m.Layers) != 2 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("synthesized manifest %+v %v", m, err)
	}
}

// Docker's legacy load without manifest.json rebuilds the config with
// MakeConfigFromV1Config; for a single-layer imported image that gives
// back the original image ID (docker-formats.md §2.4).
// TestLegacyLoadItemsKeepChains: without manifest.json (and with base's
// tag dropped), the archive's items are the tagged app and the untagged
// top base; a load also takes app's first v1 layer directory, an
// intermediate image, first, and app records it as its Parent, as
// docker's legacy loader links them.
func TestLegacyLoadItemsKeepChains(t *testing.T) {
	files := legacyFiles(t)
	for i, f := range files {
		if f.name == "repositories" {
			var repos map[string]map[string]string
			if err := json.Unmarshal(f.body, &repos); err != nil {
				t.Fatal(err)
			}
			delete(repos, "arch-fix/base")
			files[i].body = mustJSON(t, repos)
		}
	}
	a := openBytes(t, mkTar(t, files))
	items, loads := a.Items(), a.LoadItems()
	if len(items) != 2 || len(items[0].Tags) == 0 || len(items[1].Tags) != 0 || items[1].ID().Hex != baseID {
		t.Fatalf("Items: want the tagged app, then the untagged base %s; got %d items", baseID, len(items))
	}
	if len(loads) != 3 {
		t.Fatalf("LoadItems: %d, want the intermediate and the 2 items", len(loads))
	}
	mid, app := loads[0], loads[1]
	ml, _ := mid.Image.Layers()
	al, _ := app.Image.Layers()
	if len(ml) != 1 || len(al) != 2 || mid.Parent != (v1.Hash{}) || len(mid.Tags) != 0 {
		t.Errorf("intermediate: %d layer(s), parent %v, tags %v", len(ml), mid.Parent, mid.Tags)
	}
	if app.ID() != items[0].ID() || app.Parent != mid.ID() {
		t.Errorf("app %s records parent %v, want the intermediate %s", app.ID(), app.Parent, mid.ID())
	}
	if loads[2].ID().Hex != baseID || loads[2].Parent != (v1.Hash{}) {
		t.Errorf("base: %s parent %v", loads[2].ID(), loads[2].Parent)
	}
}

// legacyFiles are the members of the Docker 20.10 fixture without
// manifest.json: a pre-1.10 save.
func legacyFiles(t *testing.T) []tf {
	src, err := os.ReadFile(fixture2010)
	if err != nil {
		t.Fatal(err)
	}
	var files []tf
	tr := tar.NewReader(bytes.NewReader(src))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "manifest.json" {
			continue
		}
		var b bytes.Buffer
		b.ReadFrom(tr)
		f := tf{name: h.Name, body: b.Bytes()}
		if h.Typeflag != tar.TypeReg {
			f.typ, f.link = h.Typeflag, h.Linkname
		}
		files = append(files, f)
	}
	return files
}

func TestReadLegacyNoManifestJSON(t *testing.T) {
	a := openBytes(t, mkTar(t, legacyFiles(t)))
	var got []string
	for _, e := range a.Images() {
		id, _ := e.Image.ConfigName()
		got = append(got, id.Hex+" "+strings.Join(tagStrings(e), ","))
	}
	// repositories sorted by name: arch-fix/app, arch-fix/base, reg.example…
	if len(got) != 2 || !strings.HasPrefix(got[1], baseID+" docker.io/arch-fix/base:1") {
		t.Fatalf("images %q", got)
	}
	if !strings.HasSuffix(got[0], "docker.io/arch-fix/app:2,reg.example:5000/ns/app:latest") {
		t.Fatalf("images %q", got)
	}
	cf, _ := a.Images()[0].Image.ConfigFile()
	if len(cf.RootFS.DiffIDs) != 2 || len(cf.History) != 2 || cf.Config.Cmd[1] != "x > y" {
		t.Fatalf("rebuilt config %+v", cf)
	}
}

// dockerForm builds a Docker 25+ style archive by hand.
func dockerForm(t testing.TB) ([]byte, [][]byte, []byte) {
	layers := testLayers[:2]
	cfg := configFor(t, layers, "linux")
	var ldesc []map[string]any
	files := []tf{{name: "blobs/", typ: tar.TypeDir}, {name: "blobs/sha256/", typ: tar.TypeDir},
		{name: "blobs/sha256/" + sha(cfg).Hex, body: cfg}}
	var paths []string
	for _, l := range layers {
		files = append(files, tf{name: "blobs/sha256/" + sha(l).Hex, body: l})
		ldesc = append(ldesc, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(l).String(), "size": len(l)})
		paths = append(paths, "blobs/sha256/"+sha(l).Hex)
	}
	man := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg).String(), "size": len(cfg)},
		"layers": ldesc})
	files = append(files, tf{name: "blobs/sha256/" + sha(man).Hex, body: man})
	idx := mustJSON(t, map[string]any{"schemaVersion": 2, "manifests": []any{
		map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(man).String(), "size": len(man),
			"annotations": map[string]string{"io.containerd.image.name": "docker.io/library/foo:1", "org.opencontainers.image.ref.name": "1"}},
	}})
	mj := mustJSON(t, []map[string]any{{"Config": "blobs/sha256/" + sha(cfg).Hex, "RepoTags": []string{"foo:1", "foo:2"}, "Layers": paths}})
	files = append(files, tf{name: "index.json", body: idx}, tf{name: "manifest.json", body: mj},
		tf{name: "oci-layout", body: []byte(core.OCILayoutFile)})
	return mkTar(t, files), layers, man
}

func TestReadDocker25(t *testing.T) {
	b, layers, man := dockerForm(t)
	a := openBytes(t, b)
	es := a.Images()
	if len(es) != 1 {
		t.Fatalf("%d images", len(es))
	}
	e := es[0]
	checkImage(t, e.Image, configFor(t, layers, "linux"), layers)
	if got := tagStrings(e); !reflect.DeepEqual(got, []string{"docker.io/library/foo:1", "docker.io/library/foo:2"}) {
		t.Fatalf("tags %v (manifest.json wins)", got)
	}
	if e.Digest != sha(man) {
		t.Fatalf("manifest digest %s", e.Digest)
	}
	rm, _ := e.Image.RawManifest()
	if !bytes.Equal(rm, man) {
		t.Fatal("RawManifest is not the archive's manifest")
	}
	ls, _ := e.Image.Layers()
	if mt, _ := ls[0].MediaType(); mt != "application/vnd.oci.image.layer.v1.tar" {
		t.Fatalf("mt %s", mt)
	}
}

// ociLayoutTar builds a plain OCI layout tar (no manifest.json). With
// nested, index.json points to an image index (containerd style) that also
// lists a platform whose blobs are absent; with gzipLayers the layer blobs
// are gzip.
func ociLayoutTar(t testing.TB, nested, gzipLayers bool, refName string) ([]byte, [][]byte, []byte) {
	layers := testLayers
	cfg := configFor(t, layers, "linux")
	files := []tf{{name: "oci-layout", body: []byte(core.OCILayoutFile)}, {name: "blobs/sha256/" + sha(cfg).Hex, body: cfg}}
	var ldesc []map[string]any
	for _, l := range layers {
		blob, mt := l, "application/vnd.oci.image.layer.v1.tar"
		if gzipLayers {
			blob, mt = gz(t, l), "application/vnd.oci.image.layer.v1.tar+gzip"
		}
		files = append(files, tf{name: "blobs/sha256/" + sha(blob).Hex, body: blob})
		ldesc = append(ldesc, map[string]any{"mediaType": mt, "digest": sha(blob).String(), "size": len(blob)})
	}
	man := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg).String(), "size": len(cfg)},
		"layers": ldesc})
	files = append(files, tf{name: "blobs/sha256/" + sha(man).Hex, body: man})
	top := map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(man).String(), "size": len(man),
		"annotations": map[string]string{"org.opencontainers.image.ref.name": refName}}
	if nested {
		missing := sha([]byte("not here"))
		ni := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(man).String(), "size": len(man),
				"platform": map[string]string{"os": "linux", "architecture": "amd64"}},
			map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing.String(), "size": 100,
				"platform": map[string]string{"os": "linux", "architecture": "arm64"}},
		}})
		files = append(files, tf{name: "blobs/sha256/" + sha(ni).Hex, body: ni})
		top = map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(ni).String(), "size": len(ni),
			"annotations": map[string]string{"io.containerd.image.name": "docker.io/library/ctr:v1", "org.opencontainers.image.ref.name": "v1"}}
	}
	idx := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{top}})
	files = append(files, tf{name: "index.json", body: idx})
	return mkTar(t, files), layers, man
}

func TestReadOCILayoutTar(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		tags []string
	}{
		{"latest", nil}, // a bare tag names no repository
		{"example.com/x/y:3", []string{"example.com/x/y:3"}},
	} {
		b, layers, man := ociLayoutTar(t, false, false, tc.ref)
		a := openBytes(t, b)
		es := a.Images()
		if len(es) != 1 {
			t.Fatalf("%d images", len(es))
		}
		checkImage(t, es[0].Image, configFor(t, layers, "linux"), layers)
		if got := tagStrings(es[0]); !reflect.DeepEqual(got, tc.tags) {
			t.Fatalf("ref %q: tags %v", tc.ref, got)
		}
		if es[0].Digest != sha(man) {
			t.Fatal("manifest digest")
		}
	}
}

func TestReadContainerdStyle(t *testing.T) {
	b, layers, _ := ociLayoutTar(t, true, true, "")
	a := openBytes(t, b)
	es := a.Images()
	if len(es) != 1 {
		t.Fatalf("%d images (the arm64 platform has no blobs and must be skipped)", len(es))
	}
	e := es[0]
	checkImage(t, e.Image, configFor(t, layers, "linux"), layers)
	if got := tagStrings(e); !reflect.DeepEqual(got, []string{"docker.io/library/ctr:v1"}) {
		t.Fatalf("tags %v", got)
	}
	if e.Platform == nil || e.Platform.Architecture != "amd64" {
		t.Fatalf("platform %+v", e.Platform)
	}
	ls, _ := e.Image.Layers()
	if mt, _ := ls[0].MediaType(); mt != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("mt %s", mt)
	}
	if _, ok := ls[0].(interface{ UncompressedSize() (int64, bool) }).UncompressedSize(); ok {
		t.Fatal("gzip blob must not report an uncompressed size")
	}
}

// crane/ggcr tarballs: manifest.json with <hex>.tar.gz layers and a
// sha256:<hex> config name; also covers per-layer zstd.
func TestReadCraneTarball(t *testing.T) {
	layers := testLayers[:2]
	cfg := configFor(t, layers, "")
	zl := func(b []byte) []byte {
		var o bytes.Buffer
		w, _ := zstd.NewWriter(&o)
		w.Write(b)
		w.Close()
		return o.Bytes()
	}
	l0, l1 := gz(t, layers[0]), zl(layers[1])
	mj := mustJSON(t, []map[string]any{{"Config": "sha256:" + sha(cfg).Hex, "RepoTags": []string{"gcr.io/p/img:t"},
		"Layers": []string{sha(l0).Hex + ".tar.gz", sha(l1).Hex + ".tar.zst"}}})
	b := mkTar(t, []tf{{name: "sha256:" + sha(cfg).Hex, body: cfg}, {name: sha(l0).Hex + ".tar.gz", body: l0},
		{name: sha(l1).Hex + ".tar.zst", body: l1}, {name: "manifest.json", body: mj}})
	a := openBytes(t, b)
	e := a.Images()[0]
	checkImage(t, e.Image, cfg, layers)
	if got := tagStrings(e); !reflect.DeepEqual(got, []string{"gcr.io/p/img:t"}) {
		t.Fatalf("tags %v", got)
	}
	ls, _ := e.Image.Layers()
	for i, want := range []string{"application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+zstd"} {
		if mt, _ := ls[i].MediaType(); string(mt) != want {
			t.Fatalf("layer %d mt %s", i, mt)
		}
	}
	if e.Platform == nil || e.Platform.OS != "" || e.Platform.Architecture != "amd64" {
		t.Fatalf("platform %+v", e.Platform)
	}
}

func TestReadMultiImage(t *testing.T) {
	l := testLayers
	c1, c2 := configFor(t, l[:1], "linux"), configFor(t, l, "linux")
	mj := mustJSON(t, []map[string]any{
		{"Config": "c1.json", "RepoTags": []string{"a:1"}, "Layers": []string{"l0/layer.tar"}},
		{"Config": "c2.json", "RepoTags": nil, "Layers": []string{"x/layer.tar", "l1/layer.tar", "l2/layer.tar"}},
	})
	b := mkTar(t, []tf{{name: "c1.json", body: c1}, {name: "c2.json", body: c2},
		{name: "l0/layer.tar", body: l[0]}, {name: "l1/layer.tar", body: l[1]}, {name: "l2/layer.tar", body: l[2]},
		{name: "x/layer.tar", typ: tar.TypeSymlink, link: "../l0/layer.tar"},
		{name: "manifest.json", body: mj}})
	a := openBytes(t, b)
	es := a.Images()
	if len(es) != 2 || len(es[1].Tags) != 0 {
		t.Fatalf("%+v", es)
	}
	checkImage(t, es[0].Image, c1, l[:1])
	checkImage(t, es[1].Image, c2, l)
}

func TestReadOuterCompression(t *testing.T) {
	plain, layers, _ := dockerForm(t)
	comp := map[string]func() []byte{
		"gzip": func() []byte { return gz(t, plain) },
		"zstd": func() []byte {
			var o bytes.Buffer
			w, _ := zstd.NewWriter(&o)
			w.Write(plain)
			w.Close()
			return o.Bytes()
		},
		"xz": func() []byte {
			var o bytes.Buffer
			w, _ := xz.NewWriter(&o)
			w.Write(plain)
			w.Close()
			return o.Bytes()
		},
		"bzip2": func() []byte {
			if _, err := exec.LookPath("bzip2"); err != nil {
				t.Skip("bzip2 not installed")
			}
			cmd := exec.Command("bzip2", "-c")
			cmd.Stdin = bytes.NewReader(plain)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
	}
	for n, f := range comp {
		t.Run(n, func(t *testing.T) {
			b := f()
			a := openBytes(t, b)
			checkImage(t, a.Images()[0].Image, configFor(t, layers, "linux"), layers)
			// the same through FromReader (stdin path)
			a2, err := FromReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer a2.Close()
			checkImage(t, a2.Images()[0].Image, configFor(t, layers, "linux"), layers)
		})
	}
	t.Run("uncompressed-stream", func(t *testing.T) {
		a, err := FromReader(bytes.NewReader(plain))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		checkImage(t, a.Images()[0].Image, configFor(t, layers, "linux"), layers)
	})
}

func TestReadPerLayerGzipInLegacy(t *testing.T) {
	l := testLayers[:1]
	cfg := configFor(t, l, "linux")
	mj := mustJSON(t, []map[string]any{{"Config": "c.json", "RepoTags": []string{"z:1"}, "Layers": []string{"v/layer.tar"}}})
	a := openBytes(t, mkTar(t, []tf{{name: "c.json", body: cfg}, {name: "v/layer.tar", body: gz(t, l[0])}, {name: "manifest.json", body: mj}}))
	checkImage(t, a.Images()[0].Image, cfg, l)
}

func TestDuplicateMemberLastWins(t *testing.T) {
	l := testLayers[:1]
	cfg := configFor(t, l, "linux")
	mj := mustJSON(t, []map[string]any{{"Config": "c.json", "Layers": []string{"v/layer.tar"}}})
	a := openBytes(t, mkTar(t, []tf{{name: "c.json", body: []byte("garbage")}, {name: "./c.json", body: cfg},
		{name: "v/layer.tar", body: l[0]}, {name: "manifest.json", body: mj}}))
	checkImage(t, a.Images()[0].Image, cfg, l)
}

func TestHostile(t *testing.T) {
	l := testLayers[:1]
	cfg := configFor(t, l, "linux")
	item := func(m map[string]any) []byte {
		base := map[string]any{"Config": "c.json", "RepoTags": []string{"x:1"}, "Layers": []string{"l/layer.tar"}}
		for k, v := range m {
			base[k] = v
		}
		return mustJSON(t, []any{base})
	}
	good := []tf{{name: "c.json", body: cfg}, {name: "l/layer.tar", body: l[0]}}
	with := func(extra ...tf) []byte { return mkTar(t, append(append([]tf{}, good...), extra...)) }
	noRootfs := mustJSON(t, map[string]any{"os": "linux", "architecture": "amd64"})
	var winCfg map[string]any
	json.Unmarshal(cfg, &winCfg)
	winCfg["os"] = "windows"
	truncated := with(tf{name: "manifest.json", body: item(nil)})
	truncated = truncated[:600]
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"config escapes", with(tf{name: "manifest.json", body: item(map[string]any{"Config": "../../../etc/hostname"})}),
			`manifest.json: item 0: Config: archive entry "../../../etc/hostname": path leaves the archive`},
		{"config absolute", with(tf{name: "manifest.json", body: item(map[string]any{"Config": "/etc/hostname"})}),
			`archive entry "/etc/hostname": absolute path not allowed`},
		{"layer via absolute symlink", with(tf{name: "lnk", typ: tar.TypeSymlink, link: "/etc"},
			tf{name: "manifest.json", body: item(map[string]any{"Layers": []string{"lnk/passwd"}})}),
			`manifest.json: item 0: layer 0: archive entry "lnk/passwd": symlink "lnk" -> "/etc" leaves the archive`},
		{"layer via relative escaping symlink", with(tf{name: "d/lnk", typ: tar.TypeSymlink, link: "../../../etc"},
			tf{name: "manifest.json", body: item(map[string]any{"Layers": []string{"d/lnk/passwd"}})}),
			`archive entry "d/lnk/passwd": symlink "d/lnk" -> "../../../etc" leaves the archive`},
		{"symlink loop", with(tf{name: "a", typ: tar.TypeSymlink, link: "b"}, tf{name: "b", typ: tar.TypeSymlink, link: "a"},
			tf{name: "manifest.json", body: item(map[string]any{"Layers": []string{"a"}})}),
			`archive entry "a": too many levels of symbolic links`},
		{"layer count", with(tf{name: "manifest.json", body: item(map[string]any{"Layers": []string{"l/layer.tar", "l/layer.tar"}})}),
			`manifest.json: item 0: invalid manifest, layers length mismatch: expected 1, got 2`},
		{"no rootfs", mkTar(t, []tf{{name: "c.json", body: noRootfs}, {name: "l/layer.tar", body: l[0]}, {name: "manifest.json", body: item(nil)}}),
			`manifest.json: item 0: c.json: invalid image JSON, no RootFS key`},
		{"invalid manifest JSON", with(tf{name: "manifest.json", body: []byte("[{")}), `manifest.json: invalid JSON`},
		{"invalid config JSON", mkTar(t, []tf{{name: "c.json", body: []byte("{nope")}, {name: "manifest.json", body: item(nil)}}),
			`c.json: invalid JSON`},
		{"windows", mkTar(t, []tf{{name: "c.json", body: mustJSON(t, winCfg)}, {name: "l/layer.tar", body: l[0]}, {name: "manifest.json", body: item(nil)}}),
			`c.json: cannot load windows image on linux`},
		{"missing layer", mkTar(t, []tf{{name: "c.json", body: cfg}, {name: "manifest.json", body: item(nil)}}),
			`manifest.json: item 0: layer 0: archive entry "l/layer.tar" not found`},
		{"bad tag", with(tf{name: "manifest.json", body: item(map[string]any{"RepoTags": []string{"Bad:Tag!"}})}),
			`RepoTags "Bad:Tag!": invalid reference format: repository name must be lowercase`},
		{"tag without tag", with(tf{name: "manifest.json", body: item(map[string]any{"RepoTags": []string{"research-l"}})}),
			`invalid tag "research-l"`},
		{"nothing known", mkTar(t, []tf{{name: "hello", body: []byte("x")}}), `no manifest.json, index.json or repositories in archive`},
		{"garbage", bytes.Repeat([]byte("garbage!"), 200), `not a tar archive: archive/tar: invalid tar header`},
		{"empty", nil, `archive is empty (0 bytes)`},
		{"truncated", truncated, `truncated tar archive`},
		{"oci blob digest mismatch", func() []byte {
			b, _, man := ociLayoutTar(t, false, false, "x")
			// replace the manifest blob content with different bytes of the same name
			return append(b[:len(b)-1024:len(b)-1024], mkTar(t, []tf{{name: "blobs/sha256/" + sha(man).Hex, body: []byte("{}")}})...)
		}(), `index.json: manifests[0]: blobs/sha256/`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Open(writeTemp(t, tc.data))
			if err == nil {
				a.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("multi-line error: %q", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not contain %q", msg, tc.want)
			}
		})
	}
}

func TestEmptyStdin(t *testing.T) {
	_, err := FromReader(bytes.NewReader(nil))
	if err == nil || !strings.Contains(err.Error(), "archive is empty") {
		t.Fatalf("%v", err)
	}
	_, err = FromReader(bytes.NewReader(gz(t, []byte("not a tar"))))
	if err == nil || !strings.Contains(err.Error(), "not a tar archive") {
		t.Fatalf("%v", err)
	}
	// truncated gzip stream
	g := gz(t, bytes.Repeat([]byte("x"), 100000))
	_, err = FromReader(bytes.NewReader(g[:len(g)/2]))
	if err == nil || !strings.Contains(err.Error(), "decompressing gzip archive") {
		t.Fatalf("%v", err)
	}
	_ = fmt.Sprint
	_ = gzip.NewReader
}
