package containerd

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// newRoot is a containerd root as a first start leaves it: an empty meta.db.
func newRoot(t *testing.T) *Store {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "io.containerd.metadata.v1.bolt")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tags(t *testing.T, refs ...string) []name.Reference {
	var out []name.Reference
	for _, r := range refs {
		ref, err := reference.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ref)
	}
	return out
}

// loadRandom loads n random images in one transaction and returns their IDs.
func loadRandom(t *testing.T, s *Store, n int) []v1.Hash {
	t.Helper()
	tx := s.Begin()
	defer tx.Abort()
	var ids []v1.Hash
	for i := 0; i < n; i++ {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		id, err := tx.AddImage(img, v1.Hash{})
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img.Digest(); d != id {
			t.Fatalf("ID %s, the manifest digest is %s", id, d)
		}
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestRefsAsDocker29: names are fully qualified in containerd and familiar
// in imgtool; an ID with two names needs -f; a target whose last name moves
// away keeps a moby-dangling@ record, as Docker 29 does.
func TestRefsAsDocker29(t *testing.T) {
	s := newRoot(t)
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ids := loadRandom(t, s, 2)
	if _, err := s.Refs().SetMany([]store.TagSet{{ID: ids[0], Refs: tags(t, "a:1", "b:1")}, {ID: ids[1], Refs: tags(t, "example.com/c:1")}}, false); err != nil {
		t.Fatal(err)
	}
	recs, err := s.records()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if want := []string{"docker.io/library/a:1", "docker.io/library/b:1", "example.com/c:1"}; !reflect.DeepEqual(names, want) {
		t.Errorf("records %v, want %v (loaded images lose their moby-dangling@ record once named)", names, want)
	}
	if got, _ := s.Refs().TagsOf(ids[0]); !reflect.DeepEqual(got, []string{"a:1", "b:1"}) {
		t.Errorf("TagsOf = %v", got)
	}
	if id, err := s.Refs().Resolve(ids[1].Hex[:10]); err != nil || id != ids[1] {
		t.Errorf("Resolve(prefix) = %s, %v", id, err)
	}
	if _, err := s.Images().Remove(ids[0].Hex[:12], false); !errors.Is(err, store.ErrConflict) {
		t.Errorf("rmi of a twice-named ID without -f: %v", err)
	}
	res, err := store.SetTags(s.Refs(), ids[1], tags(t, "a:1", "b:1"), true)
	if err != nil || len(res) != 2 || res[0].Previous != ids[0] {
		t.Fatalf("Set moving a:1, b:1: %+v, %v", res, err)
	}
	list, err := s.Images().List()
	if err != nil {
		t.Fatal(err)
	}
	var dangling bool
	for _, in := range list {
		dangling = dangling || in.ID == ids[0] && len(in.Tags) == 0
	}
	if !dangling {
		t.Errorf("image %s lost its last name but is not listed untagged: %+v", ids[0], list)
	}
	lines, err := s.Images().Remove("example.com/c:1", false)
	if err != nil || !reflect.DeepEqual(lines, []string{"Untagged: example.com/c:1"}) {
		t.Errorf("rmi of one of three names: %v, %v", lines, err)
	}
}

// TestAbortRemovesBlobs: an aborted transaction leaves the content store
// and the records as they were.
func TestAbortRemovesBlobs(t *testing.T) {
	s := newRoot(t)
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx := s.Begin()
	img, _ := random.Image(512, 3)
	if _, err := tx.AddImage(img, v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	tx.Abort()
	ents, _ := os.ReadDir(filepath.Join(s.contentDir(), "blobs", "sha256"))
	ingest, _ := os.ReadDir(filepath.Join(s.contentDir(), "ingest"))
	if len(ents) != 0 || len(ingest) != 0 {
		t.Errorf("aborted tx left %d blobs, %d ingest entries", len(ents), len(ingest))
	}
	if recs, err := s.records(); err != nil || len(recs) != 0 {
		t.Errorf("aborted tx left records %v (%v)", recs, err)
	}
}

// TestCheckRepairsLeftovers: what a killed imgtool write leaves (a temp
// file in ingest/, a blob no namespace records) is found by check and
// removed by repair; recorded blobs stay.
func TestCheckRepairsLeftovers(t *testing.T) {
	s := newRoot(t)
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	loadRandom(t, s, 1)
	kept, _ := os.ReadDir(filepath.Join(s.contentDir(), "blobs", "sha256"))
	orphan, _, _, err := s.ingest(strings.NewReader("orphan"), "")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.contentDir(), "ingest", "imgtool-123")
	os.WriteFile(tmp, []byte("x"), 0o600)
	rep, err := s.Check(store.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, p := range rep.Problems {
		msgs = append(msgs, p.String())
	}
	want := []string{"garbage: content ingest/imgtool-123: left by an interrupted imgtool write",
		"warning: content blob " + orphan + ": recorded in no namespace (containerd's collector would remove it)"}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("check:\n%v\nwant\n%v", msgs, want)
	}
	if _, err := s.Check(store.CheckOptions{Repair: true}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadDir(filepath.Join(s.contentDir(), "blobs", "sha256"))
	if len(after) != len(kept) {
		t.Errorf("after repair %d blobs, want the %d recorded ones", len(after), len(kept))
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("repair left %s", tmp)
	}
}
