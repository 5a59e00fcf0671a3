package overlay2

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/imgtool/imgtool/store"
)

// The lookups of one command read repositories.json once while it stays
// the same, and see every change: this store's own writes and a file
// another process (dockerd, another imgtool) put in its place.
func TestTagIndexFollowsTheFile(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := load(t, s, mkImage(t, "a", base(t)), "app:1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := load(t, s, mkImage(t, "b", base(t)))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.tagIndex()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if tags, _ := s.tagsOf(a); !slices.Equal(tags, []string{"app:1"}) {
			t.Fatalf("tags of a: %q", tags)
		}
		if id, _ := s.resolve("app:1"); id != a {
			t.Fatalf("app:1 -> %s, want %s", id, a)
		}
	}
	if again, _ := s.tagIndex(); again != first {
		t.Error("repositories.json was read again although it did not change")
	}

	// this store's write: app:1 moves to b
	tag, _ := name.NewTag("app:1")
	if _, err := s.setManyTags([]store.TagSet{{ID: b, Refs: []name.Reference{tag}}}, false); err != nil {
		t.Fatal(err)
	}
	if id, _ := s.resolve("app:1"); id != b {
		t.Errorf("after the tag moved, app:1 -> %s, want %s", id, b)
	}
	if tags, _ := s.tagsOf(a); len(tags) != 0 {
		t.Errorf("a still has tags %q", tags)
	}

	// another process replaces the file (by rename, as Docker does)
	other := []byte(`{"Repositories":{"other":{"other:2":"` + a.String() + `"}}}`)
	tmp := filepath.Join(filepath.Dir(s.tagsPath()), "tmp-repositories")
	if err := os.WriteFile(tmp, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.tagsPath()); err != nil {
		t.Fatal(err)
	}
	all, err := s.tags()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Ref != "other:2" || all[0].ImageID != a {
		t.Errorf("after another process's write: %+v", all)
	}
	if _, err := s.resolve("app:1"); err == nil {
		t.Error("app:1 still resolves after the file lost it")
	}

	// and removes it
	if err := os.Remove(s.tagsPath()); err != nil {
		t.Fatal(err)
	}
	if all, err := s.tags(); err != nil || len(all) != 0 {
		t.Errorf("without repositories.json: %+v, %v", all, err)
	}
}
