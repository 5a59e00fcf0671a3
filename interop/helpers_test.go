package interop

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/internal/dockertest"
)

func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// newStore returns a fresh, empty imgtool store directory.
func newStore(t *testing.T) string {
	t.Helper()
	s := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(s, 0o700); err != nil {
		t.Fatal(err)
	}
	return s
}

// richImage builds dockertest.RichDockerfile on the shared base image as tag
// and returns its ID. marker keeps its layers unique to the calling test.
func richImage(t *testing.T, d *dockertest.Daemon, tag, marker string) string {
	t.Helper()
	base := dockertest.BaseImage(t, d, "")
	return d.Build(t, tag, dockertest.RichDockerfile(base, marker), dockertest.RichFiles(marker))
}

func rootFSLayers(t *testing.T, d *dockertest.Daemon, ref string) []string {
	t.Helper()
	var layers []string
	out := d.Docker(t, "image", "inspect", "-f", "{{json .RootFS.Layers}}", ref)
	if err := json.Unmarshal([]byte(out), &layers); err != nil {
		t.Fatalf("RootFS.Layers of %s: %v (%q)", ref, err, out)
	}
	return layers
}

// chainIDs are the chain IDs of diffIDs (imageid, on OCI image-spec's
// identity; checked against dockerd's layerdb by TestIdentitiesMatchDockerLayerdb).
func chainIDs(diffIDs []string) []string {
	hs := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		h, err := v1.NewHash(d)
		if err != nil {
			panic(fmt.Sprintf("chainIDs: %v", err))
		}
		hs[i] = h
	}
	out := make([]string, len(hs))
	for i, c := range imageid.ChainIDs(hs) {
		out[i] = c.String()
	}
	return out
}

// hasLayer reports whether the daemon's (overlay2) layerdb holds chainID.
func hasLayer(d *dockertest.Daemon, chainID string) bool {
	_, err := os.Stat(filepath.Join(d.Root, "image", "overlay2", "layerdb", "sha256", strings.TrimPrefix(chainID, "sha256:")))
	return err == nil
}

// removeImage `docker rmi`s ref and checks that the image and its layers
// above the shared base layer are really gone, so that a later `docker load`
// has to register them from the archive.
func removeImage(t *testing.T, d *dockertest.Daemon, ref, id string, layers []string) {
	t.Helper()
	d.Docker(t, "rmi", ref)
	if d.HasImage(id) {
		t.Fatalf("precondition: %s (%s) still present after docker rmi (another tag?)", ref, id)
	}
	chains := chainIDs(layers)
	for i := 1; i < len(chains); i++ {
		if hasLayer(d, chains[i]) {
			t.Fatalf("precondition: layer %d (chain %s) of %s still in the layerdb after rmi", i, chains[i], ref)
		}
	}
}

// checkSameImage asserts that ref resolves to wantID with wantLayers and that
// running RichCheck in it prints wantRun.
func checkSameImage(t *testing.T, d *dockertest.Daemon, ref, wantID string, wantLayers []string, wantRun string) {
	t.Helper()
	if got := d.ImageID(t, ref); got != wantID {
		t.Errorf("image ID after docker load: %s, want %s", got, wantID)
	}
	if got := rootFSLayers(t, d, ref); !equalStrings(got, wantLayers) {
		t.Errorf("RootFS.Layers after docker load:\n got %v\nwant %v", got, wantLayers)
	}
	if wantRun != "" {
		if got := d.Run(t, ref, dockertest.RichCheck...); got != wantRun {
			t.Errorf("container output differs after the round trip:\n--- before\n%s\n--- after\n%s", wantRun, got)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- archive inspection ---------------------------------------------------

type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
	Parent   string `json:",omitempty"`
}

type archive struct {
	files    map[string][]byte // regular files by cleaned name
	links    map[string]string // symlinks: name -> target
	manifest []manifestItem
}

func readArchive(t *testing.T, p string) *archive {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := &archive{files: map[string][]byte{}, links: map[string]string{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading archive %s: %v", p, err)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("reading %s in %s: %v", name, p, err)
			}
			a.files[name] = b
		case tar.TypeSymlink:
			a.links[name] = h.Linkname
		}
	}
	mf, ok := a.files["manifest.json"]
	if !ok {
		t.Fatalf("archive %s has no manifest.json; entries: %v", p, a.names())
	}
	if err := json.Unmarshal(mf, &a.manifest); err != nil {
		t.Fatalf("manifest.json of %s: %v", p, err)
	}
	return a
}

func (a *archive) names() []string {
	var n []string
	for k := range a.files {
		n = append(n, k)
	}
	for k := range a.links {
		n = append(n, k+" -> "+a.links[k])
	}
	sort.Strings(n)
	return n
}

// file returns the content at name, following in-archive symlinks.
func (a *archive) file(name string) ([]byte, bool) {
	for i := 0; i < 10; i++ {
		name = path.Clean(name)
		if b, ok := a.files[name]; ok {
			return b, true
		}
		target, ok := a.links[name]
		if !ok {
			return nil, false
		}
		if path.IsAbs(target) {
			return nil, false
		}
		name = path.Join(path.Dir(name), target)
	}
	return nil, false
}

// eachLayerEntry calls fn for every tar header of every layer of the
// archive's first image.
func (a *archive) eachLayerEntry(t *testing.T, fn func(h *tar.Header)) {
	t.Helper()
	if len(a.manifest) == 0 {
		t.Fatal("empty manifest")
	}
	for _, l := range a.manifest[0].Layers {
		b, ok := a.file(l)
		if !ok {
			t.Fatalf("layer %s missing from the archive", l)
		}
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l, err)
			}
			fn(h)
		}
	}
}

// layerFeatures lists what the layer tars of the archive's first image
// contain: "whiteout", "opaque", "hardlink", "symlink", "longname".
func (a *archive) layerFeatures(t *testing.T) map[string]bool {
	t.Helper()
	feat := map[string]bool{}
	a.eachLayerEntry(t, func(h *tar.Header) {
		base := path.Base(h.Name)
		switch {
		case base == ".wh..wh..opq":
			feat["opaque"] = true
		case strings.HasPrefix(base, ".wh."):
			feat["whiteout"] = true
		case h.Typeflag == tar.TypeLink:
			feat["hardlink"] = true
		case h.Typeflag == tar.TypeSymlink:
			feat["symlink"] = true
		}
		if len(h.Name) > 100 {
			feat["longname"] = true
		}
	})
	return feat
}

func requireFeatures(t *testing.T, a *archive, want ...string) {
	t.Helper()
	got := a.layerFeatures(t)
	for _, w := range want {
		if !got[w] {
			t.Fatalf("precondition: the image's layers have no %s entry (features: %v)", w, got)
		}
	}
}

// ---- synthetic archives (no daemon needed) ---------------------------------

type tarEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
	mode     int64
}

func layerTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type synthImage struct {
	tags   []string
	layers [][]byte // what the config's diff_ids are computed from
	// stored replaces layers[i] in the archive (diff_id mismatch) when set.
	stored map[int][]byte
	env    string
}

// configFor returns Go-marshalled config bytes for img (ID = sha256 of them).
func configFor(img synthImage) []byte {
	diffIDs := make([]string, len(img.layers))
	hist := make([]map[string]any, len(img.layers))
	for i, l := range img.layers {
		diffIDs[i] = digestOf(l)
		hist[i] = map[string]any{"created": "2023-11-14T22:13:20Z", "created_by": fmt.Sprintf("/bin/sh -c #(nop) layer %d", i)}
	}
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      "2023-11-14T22:13:20Z",
		"config":       map[string]any{"Env": []string{"PATH=/bin", "SYNTH=" + img.env}, "Cmd": []string{"/bin/sh"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      hist,
	}
	b, _ := json.Marshal(cfg)
	return b
}

// writeArchive writes a docker-save style archive (manifest.json layout,
// legacy-ish paths) of imgs to p and returns their image IDs.
func writeArchive(t *testing.T, p string, imgs ...synthImage) []string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	var manifest []manifestItem
	var ids []string
	written := map[string]bool{}
	for _, img := range imgs {
		cfg := configFor(img)
		id := digestOf(cfg)
		ids = append(ids, id)
		cfgName := strings.TrimPrefix(id, "sha256:") + ".json"
		if !written[cfgName] {
			add(cfgName, cfg)
			written[cfgName] = true
		}
		item := manifestItem{Config: cfgName, RepoTags: img.tags}
		for i, l := range img.layers {
			if s, ok := img.stored[i]; ok {
				l = s
			}
			name := strings.TrimPrefix(digestOf(l), "sha256:") + "/layer.tar"
			if !written[name] {
				add(name, l)
				written[name] = true
			}
			item.Layers = append(item.Layers, name)
		}
		manifest = append(manifest, item)
	}
	mb, _ := json.Marshal(manifest)
	add("manifest.json", append(mb, '\n'))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// synthBase is a small, valid one-layer image (not runnable: no binaries).
func synthBase(t *testing.T) synthImage {
	return synthImage{
		tags: []string{"synth-base:1"},
		env:  "base",
		layers: [][]byte{layerTar(t,
			tarEntry{name: "etc/", typ: tar.TypeDir},
			tarEntry{name: "etc/os-release", body: "ID=synth\n"},
			tarEntry{name: "data/", typ: tar.TypeDir},
			tarEntry{name: "data/a.txt", body: "a\n"},
			tarEntry{name: "data/gone.txt", body: "gone\n"},
		)},
	}
}

// synthThree is a 3-layer image on top of synthBase's layer, with a
// whiteout, an opaque dir, a hardlink and a symlink.
func synthThree(t *testing.T, tag, marker string) synthImage {
	base := synthBase(t).layers[0]
	return synthImage{
		tags: []string{tag},
		env:  marker,
		layers: [][]byte{
			base,
			layerTar(t,
				tarEntry{name: "data/", typ: tar.TypeDir},
				tarEntry{name: "data/.wh.gone.txt"},
				tarEntry{name: "data/opq/", typ: tar.TypeDir},
				tarEntry{name: "data/opq/old.txt", body: "old " + marker + "\n"},
				tarEntry{name: "data/b.txt", body: "b " + marker + "\n"},
				tarEntry{name: "data/b-hard.txt", typ: tar.TypeLink, linkname: "data/b.txt"},
			),
			layerTar(t,
				tarEntry{name: "data/", typ: tar.TypeDir},
				tarEntry{name: "data/opq/", typ: tar.TypeDir},
				tarEntry{name: "data/opq/.wh..wh..opq"},
				tarEntry{name: "data/opq/new.txt", body: "new " + marker + "\n"},
				tarEntry{name: "data/sym", typ: tar.TypeSymlink, linkname: "b.txt"},
			),
		},
	}
}

// jsonLines parses one JSON object per non-empty line.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("not a JSON object per line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// oneLine asserts that a failed command's stderr is a single non-empty line.
func oneLine(t *testing.T, what string, r *dockertest.Result) {
	t.Helper()
	msg := strings.TrimRight(r.Stderr, "\n")
	if msg == "" {
		t.Errorf("%s: empty stderr", what)
	} else if strings.Contains(msg, "\n") {
		t.Errorf("%s: stderr is not one line:\n%s", what, r.Stderr)
	}
}

// runCmd runs a peer tool and returns its combined output.
func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
