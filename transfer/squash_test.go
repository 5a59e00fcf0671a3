package transfer

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
	_ "github.com/imgtool/imgtool/store/overlay2" // the overlay2 backend registers itself with store.Open
)

const corpusDir = "../testdata/flatten"

// corpusKnown lists corpus cases where flatten is known to differ from
// docker export, with why; their differences are logged, not failed. Every
// other case must match exactly, and a listed case that starts matching
// fails, so the list cannot go stale. It is empty: every case matches.
var corpusKnown = map[string]string{}

// treeLine is a Describe node on one line, with the full sha256 (the
// corpus .tree format).
func treeLine(n flatten.Node) string {
	s := n.String()
	if n.SHA256 != "" {
		s = strings.Replace(s, "sha256="+n.SHA256[:12], "sha256="+n.SHA256, 1)
	}
	return s
}

func treeLines(t *testing.T, r io.Reader) []string {
	t.Helper()
	nodes, err := flatten.Describe(r)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		out = append(out, treeLine(n))
	}
	return out
}

func corpusCases(t *testing.T) []string {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(corpusDir, "*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no corpus in testdata/flatten (run testdata/flatten/gen.sh)")
	}
	var out []string
	for _, m := range ms {
		out = append(out, strings.TrimSuffix(filepath.Base(m), ".tar"))
	}
	return out
}

func diffLines(want, got []string) []string {
	in := func(ls []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range ls {
			m[l] = true
		}
		return m
	}
	mw, mg := in(want), in(got)
	var d []string
	for _, l := range want {
		if !mg[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range got {
		if !mw[l] {
			d = append(d, "+ "+l)
		}
	}
	return d
}

// squashArchive flattens the only image of the archive at p to a docker
// archive in memory and returns the result, that archive and the source.
func squashArchive(t *testing.T, p string, opts SquashOptions) (*Squashed, []byte, v1.Image) {
	t.Helper()
	a, err := archive.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if len(a.Images()) != 1 {
		t.Fatalf("%s: %d images", p, len(a.Images()))
	}
	img := a.Images()[0].Image
	src, err := SquashSourceFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tag, _ := name.NewTag("flat/test:1")
	res, err := SquashToArchive(&buf, src, []name.Tag{tag}, opts)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return res, buf.Bytes(), img
}

// onlyLayer reads back a one-image, one-layer archive and returns its
// layer tar and config.
func onlyLayer(t *testing.T, b []byte) ([]byte, []byte) {
	t.Helper()
	a, err := archive.FromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if len(a.Images()) != 1 {
		t.Fatalf("%d images", len(a.Images()))
	}
	img := a.Images()[0].Image
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers: %d, %v", len(ls), err)
	}
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	lb, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.RawConfigFile()
	return lb, cfg
}

// TestSquashCorpus flattens every corpus archive and compares the single
// layer's tree with docker export's (no Docker needed).
func TestSquashCorpus(t *testing.T) {
	for _, c := range corpusCases(t) {
		t.Run(c, func(t *testing.T) {
			wantB, err := os.ReadFile(filepath.Join(corpusDir, c+".tree"))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSpace(string(wantB)), "\n")
			res, out, _ := squashArchive(t, filepath.Join(corpusDir, c+".tar"), SquashOptions{})
			layer, cfg := onlyLayer(t, out)
			if imageid.FromBytes(cfg) != res.ID {
				t.Errorf("archive config is not image %s", res.ID)
			}
			if got := imageid.FromBytes(layer); got != res.DiffID {
				t.Errorf("layer diff ID %s, reported %s", got, res.DiffID)
			}
			got := treeLines(t, bytes.NewReader(layer))
			d := diffLines(want, got)
			switch {
			case len(d) > 0 && corpusKnown[c] != "":
				t.Logf("known difference (%s) (- docker export, + flatten):\n%s", corpusKnown[c], strings.Join(d, "\n"))
			case len(d) > 0:
				t.Errorf("flatten differs from docker export (- docker export, + flatten):\n%s", strings.Join(d, "\n"))
			case corpusKnown[c] != "":
				t.Errorf("case now matches docker export: drop it from corpusKnown")
			}
		})
	}
}

// TestSquashConfig: only rootfs and history change; other keys are kept
// byte for byte; the result is deterministic and Docker-shaped.
func TestSquashConfig(t *testing.T) {
	src := []byte(`{"architecture":"amd64","config":{"Env":["A=x<y>&z"],"Cmd":["echo","x > y"],"Labels":{"a":"b&c"},"ExposedPorts":{"80/tcp":{}},"WorkingDir":"/w","User":"1:2","Entrypoint":["/e"]},"created":"2024-01-02T03:04:05.123456789Z","history":[{"created":"2024-01-01T00:00:00Z","created_by":"a"},{"created":"2024-01-02T00:00:00Z","created_by":"b","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111","sha256:2222222222222222222222222222222222222222222222222222222222222222"]},"zz-unknown":{"k":[1,2,3]}}`)
	srcID := imageid.FromBytes(src)
	diff := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	out, err := SquashConfig(src, srcID, diff, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"architecture":"amd64","config":{"Env":["A=x\u003cy\u003e\u0026z"],"Cmd":["echo","x \u003e y"],"Labels":{"a":"b\u0026c"},"ExposedPorts":{"80/tcp":{}},"WorkingDir":"/w","User":"1:2","Entrypoint":["/e"]},"created":"2024-01-02T03:04:05.123456789Z","history":[{"created":"2024-01-02T03:04:05.123456789Z","created_by":"imgtool flatten","comment":"flattened from ` + srcID.String() + `"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + diff.Hex + `"]},"zz-unknown":{"k":[1,2,3]}}`
	if string(out) != want {
		t.Errorf("config:\n got %s\nwant %s", out, want)
	}
	again, _ := SquashConfig(src, srcID, diff, time.Time{})
	if !bytes.Equal(out, again) {
		t.Error("not deterministic")
	}
	epoch, err := SquashConfig(src, srcID, diff, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Created string
		History []map[string]any
	}
	if err := json.Unmarshal(epoch, &m); err != nil {
		t.Fatal(err)
	}
	if m.History[0]["created"] != "2023-11-14T22:13:20Z" || m.Created != "2024-01-02T03:04:05.123456789Z" {
		t.Errorf("SOURCE_DATE_EPOCH: history created %v, created %s", m.History[0]["created"], m.Created)
	}
	if _, err := SquashConfig([]byte(`[1]`), srcID, diff, time.Time{}); err == nil {
		t.Error("a non-object config was accepted")
	}
	// No created anywhere: the epoch.
	bare, _ := SquashConfig([]byte(`{"rootfs":{"diff_ids":[]}}`), srcID, diff, time.Time{})
	if !strings.Contains(string(bare), `"history":[{"created":"1970-01-01T00:00:00Z"`) ||
		!strings.Contains(string(bare), `"rootfs":{"type":"layers","diff_ids":["sha256:`+diff.Hex+`"]}`) {
		t.Errorf("bare config: %s", bare)
	}
}

// TestSquashDeterministicAndStore: the same source flattens to the same
// image, into an archive or into a store (as a DirLayer-backed store
// source too), and the stored layer is the archive's layer.
func TestSquashDeterministicAndStore(t *testing.T) {
	p := filepath.Join(corpusDir, "hardlinks.tar")
	r1, out1, img := squashArchive(t, p, SquashOptions{})
	r2, out2, _ := squashArchive(t, p, SquashOptions{})
	if r1.ID != r2.ID || !bytes.Equal(out1, out2) {
		t.Errorf("two flattens differ: %s %s", r1.ID, r2.ID)
	}
	r3, _, _ := squashArchive(t, p, SquashOptions{Created: time.Unix(1700000000, 0)})
	if r3.ID == r1.ID || r3.DiffID != r1.DiffID {
		t.Errorf("created should change the ID only: %v %v", r1, r3)
	}
	srcID, _ := img.ConfigName()

	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	src, err := SquashSourceFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("flat/store:1")
	res, err := SquashToStore(st, src, []name.Reference{tag}, SquashOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != r1.ID || res.DiffID != r1.DiffID {
		t.Errorf("store result %s/%s, archive %s/%s", res.ID, res.DiffID, r1.ID, r1.DiffID)
	}
	if id, err := st.Refs().Resolve("flat/store:1"); err != nil || id != res.ID {
		t.Errorf("tag: %v %v", id, err)
	}
	// Again (layer and config exist): same ID, no error.
	if again, err := SquashToStore(st, src, nil, SquashOptions{}); err != nil || again.ID != res.ID {
		t.Errorf("second flatten into the store: %v %v", again, err)
	}
	// The stored layer regenerates byte-exactly.
	simg, err := st.Images().Get(res.ID)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := simg.Layers()
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	archLayer, _ := onlyLayer(t, out1)
	if !bytes.Equal(stored, archLayer) {
		t.Error("stored layer differs from the archive's")
	}
	// Load the source into the store and flatten it from there (DirLayer
	// as root, tar-split otherwise): the same image.
	tx := st.Begin()
	if _, err := tx.AddImage(img, v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Extract(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	loaded, err := st.Images().Get(srcID)
	if err != nil {
		t.Fatal(err)
	}
	ssrc, err := SquashSourceFromStore(st, loaded)
	if err != nil {
		t.Fatal(err)
	}
	fromStore, err := SquashToStore(st, ssrc, nil, SquashOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fromStore.ID != res.ID {
		t.Errorf("flatten of the stored source: %s, of the archive: %s", fromStore.ID, res.ID)
	}
}

// TestSquashFailureLeavesNoImage: a layer that is not a tar fails the
// flatten with an error and registers nothing.
func TestSquashFailureLeavesNoImage(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var good bytes.Buffer
	tw := tar.NewWriter(&good)
	tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("a"))
	tw.Close()
	src := &SquashSource{Config: []byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), Layers: []flatten.Layer{
		flatten.TarLayer(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(good.Bytes())), nil }),
		flatten.TarLayer(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("not a tar, not at all")), nil }),
	}}
	if _, err := SquashToStore(st, src, nil, SquashOptions{}); err == nil {
		t.Fatal("flatten of a broken layer succeeded")
	}
	ids, _ := filepath.Glob(filepath.Join(st.Root(), "image", "overlay2", "imagedb", "content", "sha256", "*"))
	layers, _ := filepath.Glob(filepath.Join(st.Root(), "image", "overlay2", "layerdb", "sha256", "*"))
	if len(ids)+len(layers) != 0 {
		t.Errorf("left behind: %v %v", ids, layers)
	}
}

// TestSquashReadsContentOnce: an archive layer is a non-seekable stream to
// flatten, so it reads each layer at most twice (the header pass discards
// content, the content pass copies what survives), never more.
func TestSquashReadsContentOnce(t *testing.T) {
	a, err := archive.Open(filepath.Join(corpusDir, "opaque.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	img := a.Images()[0].Image
	ls, _ := img.Layers()
	var total, read int64
	src, _ := SquashSourceFromImage(img)
	for i, l := range ls {
		sz, _ := l.Size()
		total += sz
		l := l
		src.Layers[i] = flatten.TarLayer(func() (io.ReadCloser, error) {
			rc, err := l.Uncompressed()
			return &countingRC{rc, &read}, err
		})
	}
	if _, err := SquashToArchive(io.Discard, src, nil, SquashOptions{}); err != nil {
		t.Fatal(err)
	}
	if read > 2*total {
		t.Errorf("read %d bytes of %d bytes of layers", read, total)
	}
	t.Logf("read %d bytes for %d bytes of layer tars (stream layers: headers pass + content pass)", read, total)
}

type countingRC struct {
	io.ReadCloser
	n *int64
}

func (c *countingRC) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	*c.n += int64(n)
	return n, err
}
