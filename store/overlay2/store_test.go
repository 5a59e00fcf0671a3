package overlay2

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// memImage is a minimal v1.Image over in-memory layer tars.
type memImage struct {
	v1.Image
	config []byte
	layers [][]byte
}

type memLayer struct {
	v1.Layer
	data []byte
}

func (l memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}
func (l memLayer) DiffID() (v1.Hash, error)            { return imageid.FromBytes(l.data), nil }
func (l memLayer) MediaType() (types.MediaType, error) { return types.OCIUncompressedLayer, nil }

func (m *memImage) RawConfigFile() ([]byte, error) { return m.config, nil }
func (m *memImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(m.layers))
	for i, d := range m.layers {
		out[i] = memLayer{data: d}
	}
	return out, nil
}
func (m *memImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(m.config))
}

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func mkTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
			h.Size = 0
		}
		if e.typ == tar.TypeSymlink || e.typ == tar.TypeLink {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func mkImage(t *testing.T, comment string, layers ...[]byte) *memImage {
	var diffIDs []string
	for _, l := range layers {
		diffIDs = append(diffIDs, imageid.FromBytes(l).String())
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "comment": comment,
		"created": "2026-01-02T03:04:05Z",
		"config":  map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	return &memImage{config: cfg, layers: layers}
}

func load(t *testing.T, s *Store, img v1.Image, tags ...string) (v1.Hash, error) {
	t.Helper()
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx := s.Begin()
	defer tx.Abort()
	id, err := tx.AddImage(img, v1.Hash{})
	if err != nil {
		return id, err
	}
	if err := tx.Extract(context.Background(), nil); err != nil {
		return id, err
	}
	if err := tx.Commit(); err != nil {
		return id, err
	}
	var refs []name.Reference
	for _, tg := range tags {
		r, _ := name.NewTag(tg)
		refs = append(refs, r)
	}
	_, err = store.SetTags((*refStore)(s), id, refs, false)
	return id, err
}

var (
	base = func(t *testing.T) []byte {
		return mkTar(t,
			entry{name: "etc/", typ: tar.TypeDir},
			entry{name: "etc/motd", body: "hello\n", typ: tar.TypeReg},
			entry{name: "etc/hard", typ: tar.TypeLink, link: "etc/motd"},
			entry{name: "bin/", typ: tar.TypeDir},
			entry{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
			entry{name: "data/", typ: tar.TypeDir},
			entry{name: "data/a", body: "a", typ: tar.TypeReg},
		)
	}
	top = func(t *testing.T) []byte {
		return mkTar(t,
			entry{name: "etc/", typ: tar.TypeDir},
			entry{name: "etc/.wh.motd", typ: tar.TypeReg},
			entry{name: "data/", typ: tar.TypeDir},
			entry{name: "data/.wh..wh..opq", typ: tar.TypeReg},
			entry{name: "new.txt", body: "x\n", typ: tar.TypeReg},
		)
	}
)

func TestLoadLayout(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, tp := base(t), top(t)
	img := mkImage(t, "two", b, tp)
	id, err := load(t, s, img, "bb:2")
	if err != nil {
		t.Fatal(err)
	}
	if id != imageid.FromBytes(img.config) {
		t.Fatalf("image ID %s is not sha256 of the config", id)
	}
	got, _ := os.ReadFile(s.contentPath(id.Hex))
	if !bytes.Equal(got, img.config) {
		t.Fatal("config not stored verbatim")
	}
	repos, _ := os.ReadFile(s.tagsPath())
	want := fmt.Sprintf(`{"Repositories":{"bb":{"bb:2":"%s"}}}`, id)
	if string(repos) != want {
		t.Fatalf("repositories.json = %s, want %s", repos, want)
	}
	chains := imageid.ChainIDs([]v1.Hash{imageid.FromBytes(b), imageid.FromBytes(tp)})
	l0, err := s.layer(chains[0])
	if err != nil {
		t.Fatal(err)
	}
	l1, err := s.layer(chains[1])
	if err != nil {
		t.Fatal(err)
	}
	if l1.Parent != chains[0] || l0.Parent != (v1.Hash{}) {
		t.Fatalf("parents: %v %v", l0.Parent, l1.Parent)
	}
	// size: motd 6 (hardlink once) + symlink target 7 + a 1 = 14; top: new.txt 2.
	if l0.Size != 14 || l1.Size != 2 {
		t.Fatalf("sizes %d %d, want 14 2", l0.Size, l1.Size)
	}
	// overlay2 dirs as Docker lays them out.
	od := s.overlayDir()
	mustExist(t, filepath.Join(od, l0.CacheID, "committed"))
	mustNotExist(t, filepath.Join(od, l0.CacheID, "lower"))
	mustNotExist(t, filepath.Join(od, l0.CacheID, "work"))
	mustNotExist(t, filepath.Join(od, l1.CacheID, "committed"))
	link0, _ := s.linkOf(l0.CacheID)
	if lower, _ := s.lowerOf(l1.CacheID); lower != "l/"+link0 {
		t.Fatalf("lower = %q", lower)
	}
	target, err := os.Readlink(filepath.Join(od, "l", link0))
	if err != nil || target != "../"+l0.CacheID+"/diff" {
		t.Fatalf("l/ link -> %q, %v", target, err)
	}
	if len(link0) != 26 {
		t.Fatalf("link id %q", link0)
	}
	for path, mode := range map[string]fs.FileMode{
		s.tagsPath(): 0o600, s.contentPath(id.Hex): 0o600,
		filepath.Join(s.layerPath(chains[0].Hex), "diff"): 0o644,
		filepath.Join(od, l0.CacheID):                     0o710 | fs.ModeDir,
		filepath.Join(od, l1.CacheID, "work"):             0o700 | fs.ModeDir,
	} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode(), mode, err)
		}
	}
	// the layers regenerate byte-exactly.
	si, err := s.image(id)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := si.Layers()
	for i, want := range [][]byte{b, tp} {
		rc, _ := layers[i].Uncompressed()
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("layer %d regenerated differently (%v)", i, err)
		}
		if n, _ := layers[i].Size(); n != int64(len(want)) {
			t.Fatalf("layer %d size %d, want %d", i, n, len(want))
		}
	}
	infos, _ := s.list()
	if len(infos) != 1 || infos[0].Size != 16 || infos[0].Tags[0] != "bb:2" {
		t.Fatalf("List: %+v", infos[0])
	}
}

func TestLoadReusesLayersAndRemoveKeepsShared(t *testing.T) {
	s, _ := Open(t.TempDir())
	b, tp := base(t), top(t)
	id1, err := load(t, s, mkImage(t, "one", b), "bb:1")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := load(t, s, mkImage(t, "two", b, tp), "bb:2")
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := os.ReadDir(filepath.Join(s.layerDBDir(), "sha256"))
	if len(dirs) != 2 {
		t.Fatalf("%d layerdb entries, want 2 (base shared)", len(dirs))
	}
	unlock, _ := s.Writer()
	lines, err := s.remove("bb:2", false)
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "|") != "Untagged: bb:2|Deleted: "+id2.String() {
		t.Fatalf("rmi said %q", lines)
	}
	dirs, _ = os.ReadDir(filepath.Join(s.layerDBDir(), "sha256"))
	if len(dirs) != 1 {
		t.Fatalf("%d layerdb entries after rmi, want 1", len(dirs))
	}
	ov, _ := os.ReadDir(s.overlayDir())
	links, _ := os.ReadDir(filepath.Join(s.overlayDir(), "l"))
	if len(ov) != 2 || len(links) != 1 { // l/ and the base cache dir
		t.Fatalf("overlay2 has %d entries, l/ %d", len(ov), len(links))
	}
	if _, err := s.resolve(id1.Hex[:5]); err != nil {
		t.Fatalf("prefix lookup: %v", err)
	}
	if _, err := s.resolve("bb:2"); err == nil || err.Error() != "No such image: bb:2" {
		t.Fatalf("removed tag resolves: %v", err)
	}
}

func TestBadLayerLeavesStoreUnchanged(t *testing.T) {
	s, _ := Open(t.TempDir())
	if _, err := load(t, s, mkImage(t, "one", base(t)), "bb:1"); err != nil {
		t.Fatal(err)
	}
	before := listing(t, s.Root())
	img := mkImage(t, "bad", base(t), top(t))
	img.layers[1] = mkTar(t, entry{name: "other", body: "y", typ: tar.TypeReg})
	_, err := load(t, s, img, "bb:bad")
	if err == nil || !strings.HasPrefix(err.Error(), "invalid diffID for layer 1: expected") {
		t.Fatalf("err = %v", err)
	}
	if after := listing(t, s.Root()); after != before {
		t.Fatalf("store changed:\n%s\n---\n%s", before, after)
	}
	garbage := mkImage(t, "garbage", []byte("this is not a tar archive at all, no no no"))
	if _, err := load(t, s, garbage); err == nil {
		t.Fatal("garbage layer loaded")
	}
	if after := listing(t, s.Root()); after != before {
		t.Fatalf("store changed after garbage:\n%s\n---\n%s", before, after)
	}
}

func listing(t *testing.T, root string) string {
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "image/overlay2/imgtool.lock" {
			return nil
		}
		fi, _ := d.Info()
		line := fmt.Sprintf("%s %v %d", rel, fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:])
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func mustExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		t.Fatalf("%s exists", p)
	}
}

// SetMany applies every image's tags in order with one write of
// repositories.json: a tag given twice ends on the later image and
// reports the earlier one as renamed away, as sequential docker load
// lines do.
func TestSetManyTagsInOrder(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := load(t, s, mkImage(t, "a", base(t)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := load(t, s, mkImage(t, "b", base(t)))
	if err != nil {
		t.Fatal(err)
	}
	tag := func(s string) name.Reference { r, _ := name.NewTag(s); return r }
	before, _ := os.Stat(s.tagsPath())
	res, err := s.setManyTags([]store.TagSet{{ID: a, Refs: []name.Reference{tag("x:1"), tag("y:1")}}, {ID: b, Refs: []name.Reference{tag("x:1")}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || len(res[0]) != 2 || len(res[1]) != 1 || res[1][0].Previous != a {
		t.Fatalf("results %+v", res)
	}
	if id, _ := s.resolve("x:1"); id != b {
		t.Errorf("x:1 -> %s, want the later image %s", id, b)
	}
	if id, _ := s.resolve("y:1"); id != a {
		t.Errorf("y:1 -> %s, want %s", id, a)
	}
	after, _ := os.Stat(s.tagsPath())
	if before != nil && os.SameFile(before, after) {
		t.Error("repositories.json was not rewritten")
	}
}
