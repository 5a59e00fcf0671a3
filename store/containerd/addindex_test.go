package containerd

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	bolt "go.etcd.io/bbolt"
)

// TestAddIndex: an index staged with one of its two images records the
// index as the target, its bytes as given, the image's blobs, the GC
// labels to the child staged (or, labelAll, to both), and not the other
// child; a failed AddIndex leaves no blob behind.
func TestAddIndex(t *testing.T) {
	amd, arm := randomImage(t), randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	raw, _ := idx.RawManifest()
	idxDigest, _ := idx.Digest()
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()
	for _, labelAll := range []bool{false, true} {
		s := newRoot(t)
		unlock, err := s.Writer()
		if err != nil {
			t.Fatal(err)
		}
		tx := s.Begin().(*tx)
		id, err := tx.AddIndex(idx, map[v1.Hash]v1.Image{amdDigest: amd}, labelAll)
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			t.Fatal(err)
		}
		if id != idxDigest {
			t.Errorf("AddIndex = %s, want the index digest %s", id, idxDigest)
		}
		if got, err := s.readBlob(idxDigest.String()); err != nil || string(got) != string(raw) {
			t.Errorf("stored index %q (%v), want the bytes given", got, err)
		}
		if p, _ := s.blobPath(armDigest.String()); exists(p) {
			t.Errorf("the child not given (%s) was written", armDigest)
		}
		want := map[string]string{"containerd.io/gc.ref.content.m.0": amdDigest.String()}
		if labelAll {
			want["containerd.io/gc.ref.content.m.1"] = armDigest.String()
		}
		var labels map[string]string
		var recs []imageRecord
		s.view(func(btx *bolt.Tx) error {
			labels = readMap(nsBucket(btx, s.ns(), keyContent, keyBlob, []byte(idxDigest.String())), keyLabels)
			recs, err = readImages(btx, s.ns())
			return err
		})
		if !reflect.DeepEqual(labels, want) {
			t.Errorf("labelAll=%v: index labels %v, want %v", labelAll, labels, want)
		}
		if len(recs) != 1 || recs[0].Target.Digest != idxDigest.String() || !isIndex(recs[0].Target.MediaType) {
			t.Errorf("image records %+v, want one targeting the index", recs)
		}
		r, err := s.resolve(recs[0].Target)
		if err != nil || r.parsed.Config.Digest.String() != mustConfigName(t, amd) {
			t.Errorf("the index resolves to %v (%v), want the amd64 image", r, err)
		}
		unlock()
	}

	s := newRoot(t)
	unlock, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tx := s.Begin().(*tx)
	if _, err := tx.AddIndex(idx, map[v1.Hash]v1.Image{amdDigest: arm}, false); err == nil {
		t.Fatal("AddIndex of a child under another child's digest succeeded")
	}
	tx.Abort()
	if n := countFiles(t, filepath.Join(s.contentDir(), "blobs")); n != 0 {
		t.Errorf("a failed AddIndex left %d blobs", n)
	}
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustConfigName(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
