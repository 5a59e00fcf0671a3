package transfer

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/store"
)

// containerOf loads the layers as an image into a root store and creates
// a container from it.
func containerOf(t *testing.T, layers ...[]byte) (store.Store, *store.Container) {
	t.Helper()
	st := rootStore(t)
	img := synthImage(t, layers...)
	loaded := loadInto(t, st, img)
	c, err := st.Containers().Create(loaded.ID(), store.CreateOptions{Name: "cp-test"})
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

// TestCopyOutHardlinkSecondName: docker cp of a hard link's second name
// copies the file (its archive of that one path has the content on the
// first name it writes); imgtool's used to copy nothing, because the merged
// view wrote the content on the first name, outside what was copied.
func TestCopyOutHardlinkSecondName(t *testing.T) {
	st, c := containerOf(t, oneTreeTar(t, otDir("h/"), otFile("h/a", "shared\n"), otLink("h/b", "h/a"),
		otDir("h/d/"), otLink("h/d/c", "h/a"), otLink("h/d/e", "h/a")))
	out := t.TempDir()
	if err := CopyOut(st, c, "/h/b", filepath.Join(out, "b-copy"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "b-copy")); err != nil || string(b) != "shared\n" {
		t.Errorf("cp of the second name: %q, %v; want the content", b, err)
	}
	// A directory holding two names of an inode whose first name is
	// outside it: one carries the content, the other links to it.
	if err := CopyOut(st, c, "/h/d", out, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"d/c", "d/e"} {
		if b, err := os.ReadFile(filepath.Join(out, n)); err != nil || string(b) != "shared\n" {
			t.Errorf("%s: %q, %v; want the content", n, b, err)
		}
	}
	ci, err1 := os.Stat(filepath.Join(out, "d/c"))
	ei, err2 := os.Stat(filepath.Join(out, "d/e"))
	if err1 != nil || err2 != nil || !os.SameFile(ci, ei) {
		t.Errorf("d/c and d/e should stay one inode: %v %v", err1, err2)
	}
	// As a tar stream: the second name is a regular file with the content.
	var buf bytes.Buffer
	if err := CopyOut(st, c, "/h/d/e", "-", &buf, nil); err != nil {
		t.Fatal(err)
	}
	got := tarSummary(t, &buf)
	if want := "e 0 shared\n"; got != want {
		t.Errorf("tar of /h/d/e: %q, want %q", got, want)
	}
}

// tarSummary is "name typeflag content" per entry, sorted.
func tarSummary(t *testing.T, r io.Reader) string {
	t.Helper()
	tr := tar.NewReader(r)
	var lines []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		lines = append(lines, h.Name+" "+string(h.Typeflag)+" "+string(b))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
