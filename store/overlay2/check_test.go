package overlay2

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// ckTar builds a layer tar of regular files (name, body pairs).
func ckTar(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[i+1]))})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

// ckStore is a store with two images sharing a base layer, and a.
func ckStore(t *testing.T) (*Store, v1.Hash, v1.Hash) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	base := ckTar(t, "base", "base\n")
	a := ckTar(t, "a", "a\n")
	b := ckTar(t, "b", "b\n")
	idA := ckLoad(t, s, "a:1", base, a)
	idB := ckLoad(t, s, "b:1", base, b)
	return s, idA, idB
}

func ckLoad(t *testing.T, s *Store, tag string, layers ...[]byte) v1.Hash {
	t.Helper()
	var diffs []string
	img := &memImage{}
	for _, l := range layers {
		diffs = append(diffs, imageid.FromBytes(l).String())
		img.layers = append(img.layers, l)
	}
	img.config, _ = json.Marshal(map[string]any{"os": "linux", "architecture": "amd64", "comment": tag,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs}})
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx := s.begin()
	defer tx.Abort()
	id, err := tx.AddImage(img, v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Extract(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := store.TagImage((*refStore)(s), id.String(), tag); err != nil {
		t.Fatal(err)
	}
	return id
}

func ckRun(t *testing.T, s *Store, opts store.CheckOptions) *store.CheckReport {
	t.Helper()
	r, err := s.Check(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Problems {
		t.Logf("%s", p)
		if strings.Contains(p.String(), "\n") {
			t.Errorf("problem is not one line: %q", p)
		}
	}
	return r
}

func ckWant(t *testing.T, r *store.CheckReport, sev store.Severity, frag string) {
	t.Helper()
	for _, p := range r.Problems {
		if p.Severity == sev && strings.Contains(p.Msg, frag) {
			return
		}
	}
	t.Errorf("no %s problem containing %q", sev, frag)
}

func TestCheckCleanStore(t *testing.T) {
	s, _, _ := ckStore(t)
	r := ckRun(t, s, store.CheckOptions{Deep: true})
	if len(r.Problems) != 0 || r.Failed() {
		t.Fatalf("clean store has problems: %v", r.Problems)
	}
	empty, _ := Open(filepath.Join(t.TempDir(), "none"))
	if r := ckRun(t, empty, store.CheckOptions{}); len(r.Problems) != 0 {
		t.Fatalf("missing store has problems")
	}
}

// Leftovers of interrupted writes are garbage that --repair removes, after
// which the store is clean and its images intact.
func TestCheckRepairsLeftovers(t *testing.T) {
	s, idA, _ := ckStore(t)
	ld := s.layerDBDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// An interrupted registration: write-set and its overlay2 dir with l/ link.
	must(os.MkdirAll(filepath.Join(ld, "tmp", "write-set-123"), 0o755))
	orphan := randomID()
	must(os.MkdirAll(filepath.Join(s.overlayDir(), orphan, "diff"), 0o755))
	must(os.WriteFile(filepath.Join(s.overlayDir(), orphan, "link"), []byte("ORPHANLINKAAAAAAAAAAAAAAAA"), 0o644))
	must(os.Symlink("../"+orphan+"/diff", filepath.Join(s.overlayDir(), "l", "ORPHANLINKAAAAAAAAAAAAAAAA")))
	// An interrupted removal.
	must(os.MkdirAll(filepath.Join(ld, "sha256", strings.Repeat("e", 64)+"-0123456789abcdef-removing"), 0o700))
	// A dangling link, temp files, a tag of a missing image, stray metadata.
	must(os.Symlink("../"+strings.Repeat("f", 64)+"/diff", filepath.Join(s.overlayDir(), "l", "DANGLINGAAAAAAAAAAAAAAAAAA")))
	must(os.WriteFile(filepath.Join(s.imageDir(), "imagedb", "content", "sha256", ".tmp-"+idA.Hex+"1"), []byte("x"), 0o600))
	must(os.WriteFile(filepath.Join(s.imageDir(), ".tmp-repositories.json1"), []byte("x"), 0o600))
	must(os.MkdirAll(s.metadataDir(strings.Repeat("d", 64)), 0o700))
	tf, _ := s.readTags()
	tf.Repositories["ghost"] = map[string]string{"ghost:1": "sha256:" + strings.Repeat("c", 64)}
	must(s.writeTags(tf))
	// A complete layer no image uses (an interrupted load's).
	unused := ckTar(t, "u", "u\n")
	uimg := &memImage{layers: [][]byte{unused}}
	uimg.config, _ = json.Marshal(map[string]any{"os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{imageid.FromBytes(unused).String()}}})
	tx := s.begin()
	if _, err := tx.AddImage(uimg, v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	must(tx.Extract(context.Background(), nil))
	tx.images = nil // as if killed between the layer renames and the config write
	must(tx.Commit())

	r := ckRun(t, s, store.CheckOptions{})
	if !r.Failed() {
		t.Fatal("check passed a store with leftovers")
	}
	for _, frag := range []string{"write-set-123", "-removing", orphan, "DANGLING", ".tmp-" + idA.Hex, ".tmp-repositories.json", "ghost:1", strings.Repeat("d", 64)} {
		ckWant(t, r, store.Garbage, frag)
	}
	ckWant(t, r, store.Unused, imageid.FromBytes(unused).Hex)
	for _, p := range r.Problems {
		if p.Severity == store.Corrupt {
			t.Errorf("leftover reported as damage: %s", p)
		}
	}

	r = ckRun(t, s, store.CheckOptions{Repair: true, Deep: true})
	if r.Failed() {
		t.Fatalf("problems remain after repair")
	}
	for _, p := range r.Problems {
		if !p.Repaired {
			t.Errorf("not repaired: %s", p)
		}
	}
	if r := ckRun(t, s, store.CheckOptions{Deep: true}); len(r.Problems) != 0 {
		t.Fatalf("store not clean after repair")
	}
	if s.hasLayer(imageid.FromBytes(unused)) {
		t.Error("unused layer survived repair")
	}
	if _, err := s.image(idA); err != nil {
		t.Errorf("repair damaged a:1: %v", err)
	}
	if id, err := s.resolve("b:1"); err != nil {
		t.Errorf("repair lost b:1: %v (%v)", err, id)
	}
}

// Damage is reported as errors and never "repaired" away.
func TestCheckReportsDamage(t *testing.T) {
	cases := map[string]struct {
		damage func(t *testing.T, s *Store, a, b v1.Hash) error
		frag   string
		deep   bool
	}{
		"config hash": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			return os.WriteFile(s.contentPath(a.Hex), []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`), 0o600)
		}, "config hashes to", false},
		"missing layer": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			return os.RemoveAll(s.layerPath(ckTop(t, s, a).Hex))
		}, "is missing", false},
		"incomplete layer": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			return os.Remove(filepath.Join(s.layerPath(ckTop(t, s, a).Hex), "cache-id"))
		}, "incomplete layer", false},
		"no tar-split": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			return os.Remove(s.tarSplitPath(ckTop(t, s, a)))
		}, "tar-split", false},
		"wrong parent": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			return os.WriteFile(filepath.Join(s.layerPath(ckTop(t, s, a).Hex), "parent"), []byte(ckTop(t, s, b).String()), 0o644)
		}, "chain ID does not match", false},
		"missing diff dir": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			l, _ := s.layer(ckTop(t, s, a))
			return os.RemoveAll(s.diffPath(l.CacheID))
		}, "has no diff/", false},
		"missing l/ link": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			l, _ := s.layer(ckTop(t, s, a))
			link, _ := s.linkOf(l.CacheID)
			return os.Remove(filepath.Join(s.overlayDir(), "l", link))
		}, "is missing", false},
		"wrong lower": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			l, _ := s.layer(ckTop(t, s, a))
			return os.WriteFile(filepath.Join(s.overlayDir(), l.CacheID, "lower"), []byte("l/NOPE"), 0o644)
		}, "has lower", false},
		"modified file": {func(t *testing.T, s *Store, a, b v1.Hash) error {
			l, _ := s.layer(ckTop(t, s, a))
			return os.WriteFile(filepath.Join(s.diffPath(l.CacheID), "a"), []byte("A\n"), 0o644)
		}, "regenerating its tar", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s, a, b := ckStore(t)
			if err := c.damage(t, s, a, b); err != nil {
				t.Fatal(err)
			}
			r := ckRun(t, s, store.CheckOptions{Deep: c.deep})
			ckWant(t, r, store.Corrupt, c.frag)
			if !r.Failed() {
				t.Error("check passed a damaged store")
			}
			r = ckRun(t, s, store.CheckOptions{Deep: c.deep, Repair: true})
			if !r.Failed() {
				t.Error("repair hid damage")
			}
			// The other image is never touched by repair.
			if _, err := s.image(b); err != nil && name != "missing diff dir" {
				t.Errorf("repair damaged b:1: %v", err)
			}
		})
	}
}

// Containers: their init and rw dirs are referenced through layerdb/mounts
// and survive repair; an interrupted create is garbage.
func TestCheckContainers(t *testing.T) {
	s, a, _ := ckStore(t)
	c, err := s.createContainer(a, store.CreateOptions{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if r := ckRun(t, s, store.CheckOptions{Repair: true}); len(r.Problems) != 0 {
		t.Fatalf("container store has problems")
	}
	for _, id := range []string{c.MountID, c.InitID} {
		if _, err := os.Stat(filepath.Join(s.overlayDir(), id, "diff")); err != nil {
			t.Errorf("repair removed container dir %s", id)
		}
	}
	// Interrupted create: everything but config.v2.json.
	if err := os.Remove(filepath.Join(s.containersDir(), c.ID, "config.v2.json")); err != nil {
		t.Fatal(err)
	}
	r := ckRun(t, s, store.CheckOptions{})
	ckWant(t, r, store.Garbage, "without config.v2.json")
	if r := ckRun(t, s, store.CheckOptions{Repair: true}); r.Failed() {
		t.Fatal("repair left problems")
	}
	for _, id := range []string{c.MountID, c.InitID} {
		if _, err := os.Stat(filepath.Join(s.overlayDir(), id)); err == nil {
			t.Errorf("repair kept the dir %s of an interrupted create", id)
		}
	}
	if r := ckRun(t, s, store.CheckOptions{Deep: true}); len(r.Problems) != 0 {
		t.Fatal("not clean after repair")
	}
}

func ckTop(t *testing.T, s *Store, id v1.Hash) v1.Hash {
	t.Helper()
	b, err := os.ReadFile(s.contentPath(id.Hex))
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	c := imageid.ChainIDs(d)
	return c[len(c)-1]
}
