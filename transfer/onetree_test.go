package transfer

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggtarball "github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/store"
)

// One image has one tree: export reads a loaded image from its overlay2
// diff dirs (char 0:0 whiteouts, opaque xattrs), flatten reads the layer
// tars (.wh. names); both must give the same merged tree, for every corpus
// case and for the cases below that once differed.

// oneTreeEnt is an entry of a synthetic layer.
type oneTreeEnt struct {
	name, body, link string
	typ              byte
}

func otDir(n string) oneTreeEnt         { return oneTreeEnt{name: n, typ: tar.TypeDir} }
func otFile(n, b string) oneTreeEnt     { return oneTreeEnt{name: n, body: b, typ: tar.TypeReg} }
func otLink(n, to string) oneTreeEnt    { return oneTreeEnt{name: n, link: to, typ: tar.TypeLink} }
func otWhiteout(n string) oneTreeEnt    { return oneTreeEnt{name: n, typ: tar.TypeReg} }
func otSymlink(n, to string) oneTreeEnt { return oneTreeEnt{name: n, link: to, typ: tar.TypeSymlink} }

func oneTreeTar(t testing.TB, ents ...oneTreeEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthImage stacks layer tars into an image.
func synthImage(t testing.TB, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, b := range layers {
		l, err := ggtarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// longName is a path deeper than PATH_MAX (4096), which load accepts.
var longName = strings.Repeat(strings.Repeat("d", 200)+"/", 25) + "deep-file"

// oneTreeCases are the cases beyond the corpus, each a stack of layers.
func oneTreeCases(t testing.TB) map[string][][]byte {
	base := oneTreeTar(t, otDir("etc/"), otFile("etc/motd", "motd\n"), otDir("a/"), otFile("a/x", "x\n"),
		otFile("top", "top\n"))
	return map[string][][]byte{
		// An opaque marker at the layer root hides every lower layer.
		"root-opaque": {base, oneTreeTar(t, otFile(".wh..wh..opq", ""), otDir("new/"), otFile("new/f", "f\n"))},
		// The same, the marker after the layer's own entries, and a layer above.
		"root-opaque-last": {base, oneTreeTar(t, otDir("a/"), otFile("a/mine", "m\n"), otFile(".wh..wh..opq", "")),
			oneTreeTar(t, otFile("later", "l\n"), otWhiteout("a/.wh.mine"))},
		// Whiteouts at the root and an opaque dir whose parent is implicit.
		"root-whiteouts": {base, oneTreeTar(t, otWhiteout(".wh.top"), otWhiteout(".wh.a"), otFile("etc/sub/.wh..wh..opq", ""))},
		// A tree deeper than PATH_MAX, with a hard link and a symlink there
		// (mode 0644 in the header: on disk, as in Docker, a symlink is 0777).
		"deeper-than-path-max": {base, oneTreeTar(t, otFile(longName, "deep\n"), otLink(longName+"-link", longName),
			otSymlink(longName+"-sym", "deep-file"), otWhiteout(filepath.Dir(longName)+"/.wh.none"))},
	}
}

// tarTree is flatten's tree of img's layer tars.
func tarTree(t *testing.T, img v1.Image) []string {
	t.Helper()
	src, err := SquashSourceFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := flatten.Flatten(&buf, src.Layers, flatten.Options{}); err != nil {
		t.Fatalf("flatten of the tars: %v", err)
	}
	return treeLines(t, &buf)
}

// loadInto adds img to st and unpacks it (overlay form as root).
func loadInto(t *testing.T, st store.Store, img v1.Image) store.Image {
	t.Helper()
	tx := st.Begin()
	defer tx.Abort()
	if _, err := tx.AddImage(img, v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Extract(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := st.Images().Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// exportTree is export's tree of img loaded into st (diff dirs as root).
func exportTree(t *testing.T, st store.Store, img v1.Image) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := ExportImage(&buf, st, loadInto(t, st, img)); err != nil {
		t.Fatalf("export of the loaded image: %v", err)
	}
	return treeLines(t, &buf)
}

func checkOneTree(t *testing.T, st store.Store, img v1.Image) {
	t.Helper()
	want := tarTree(t, img)
	got := exportTree(t, st, img)
	if d := diffLines(want, got); len(d) > 0 {
		t.Errorf("export (diff dirs) differs from flatten (tars) (- flatten, + export):\n%s", strings.Join(d, "\n"))
	}
}

func rootStore(t *testing.T) store.Store {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("diff dirs in overlay form need root (otherwise export reads the tars too)")
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Writer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	return st
}

func TestExportEqualsFlattenCorpus(t *testing.T) {
	st := rootStore(t)
	forCorpus(t, func(t *testing.T, img v1.Image) { checkOneTree(t, st, img) })
}

// forCorpus runs check on the image of each corpus archive, a subtest each.
func forCorpus(t *testing.T, check func(*testing.T, v1.Image)) {
	for _, c := range corpusCases(t) {
		t.Run(c, func(t *testing.T) {
			a, err := archive.Open(filepath.Join(corpusDir, c+".tar"))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			check(t, a.Images()[0].Image)
		})
	}
}

func TestExportEqualsFlattenSynthetic(t *testing.T) {
	st := rootStore(t)
	for name, layers := range oneTreeCases(t) {
		t.Run(name, func(t *testing.T) { checkOneTree(t, st, synthImage(t, layers...)) })
	}
}

// TestRootOpaqueIsIgnored pins the answer both readers must give: docker
// export's, where a root-level opaque marker hides nothing (overlayfs ignores
// a layer root's opacity; interop/onetree_test.go checks it against Docker).
func TestRootOpaqueIsIgnored(t *testing.T) {
	st := rootStore(t)
	img := synthImage(t, oneTreeCases(t)["root-opaque"]...)
	want := []string{"a", "a/x", "etc", "etc/motd", "new", "new/f", "top"}
	for what, tree := range map[string][]string{"flatten": tarTree(t, img), "export": exportTree(t, st, img)} {
		var got []string
		for _, l := range tree {
			got = append(got, strings.Fields(l)[0])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
}
