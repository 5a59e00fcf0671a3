package flatten

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// streamStack builds three diff dirs (as root: char 0:0 whiteouts, opaque
// xattrs) with the cases the merged walk must get as the tree does.
func streamStack(t *testing.T) []string {
	base := t.TempDir()
	var dirs []string
	for _, n := range []string{"l0", "l1", "l2"} {
		dirs = append(dirs, filepath.Join(base, n))
	}
	w := func(layer int, name, data string) {
		p := filepath.Join(dirs[layer], name)
		must(t, os.MkdirAll(filepath.Dir(p), 0755))
		must(t, os.WriteFile(p, []byte(data), 0644))
	}
	sym := func(layer int, name, to string) {
		p := filepath.Join(dirs[layer], name)
		must(t, os.MkdirAll(filepath.Dir(p), 0755))
		must(t, os.Symlink(to, p))
	}
	link := func(layer int, from, to string) {
		must(t, os.Link(filepath.Join(dirs[layer], from), filepath.Join(dirs[layer], to)))
	}
	wo := func(layer int, name string) {
		p := filepath.Join(dirs[layer], name)
		must(t, os.MkdirAll(filepath.Dir(p), 0755))
		must(t, syscall.Mknod(p, syscall.S_IFCHR, 0))
	}
	w(0, "etc/passwd", "root")
	w(0, "etc/group", "g")
	w(0, "opq/stale", "s")
	w(0, "opq/keep/deep", "d")
	w(0, "gone/sub/f", "f")
	w(0, "h/a", "shared")
	link(0, "h/a", "h/b")
	link(0, "h/a", "h/z")
	sym(0, "lib", "usr/lib")
	w(0, "usr/lib/libc", "c")
	w(1, "lib/x", "x")         // a directory over the lower symlink lib
	w(1, "opq/fresh", "fresh") // opaque below
	w(1, "h/-a", "minus")      // sorts before a literal marker
	w(1, "h/.wh..wh..opq", "") // literal opaque marker file
	w(1, "h/c", "c")           // after it
	w(1, "etc/.wh.group", "")  // literal whiteout file
	wo(1, "gone")              // whiteout of a directory
	w(1, "d2/f", "one")
	must(t, syscall.Setxattr(filepath.Join(dirs[1], "opq"), "trusted.overlay.opaque", []byte("y"), 0))
	w(2, "d2/g", "two")
	w(1, "d2/sub/a", "a") // merged by the sorted walk: no literal names in d2
	w(2, "d2/sub/b", "b")
	w(1, "d2/sub/c", "c")
	wo(2, "d2/sub/c")
	w(2, "h/n", "n")
	link(2, "h/n", "a-link")
	w(2, "etc/passwd", "new root")
	wo(2, "usr")
	w(0, "etc/shadow", "s")
	w(1, "etc/.wh.shadow/inner", "i")                              // a directory named as a whiteout, not empty
	w(2, ".wh..wh.meta/x", "x")                                    // the same with a meta name
	must(t, os.Mkdir(filepath.Join(dirs[1], "h/.wh.empty"), 0755)) // empty: hides only
	w(0, "h/empty", "e")
	return dirs
}

// TestStreamEqualsTree: diff dirs merged by the walk give the bytes the
// tree gives for the same dirs read as tars, whole and as subtrees.
func TestStreamEqualsTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mknod and trusted.* xattrs")
	}
	dirs := streamStack(t)
	var tars []Layer
	for _, d := range dirs {
		tars = append(tars, TarLayer(func() (io.ReadCloser, error) { return DirLayer(d).Open() }))
	}
	for _, sub := range []string{"", "h", "/h/-a", "lib/x", "d2", "a-link", "etc/"} {
		want := flat(t, tars, Options{Subtree: sub})
		got := flat(t, DirLayers(dirs), Options{Subtree: sub})
		if !bytes.Equal(want, got) {
			a, _ := Describe(bytes.NewReader(want))
			b, _ := Describe(bytes.NewReader(got))
			t.Errorf("subtree %q: the walk's bytes differ from the tree's:\n%q", sub, DiffTrees(a, b))
		}
	}
	for _, sub := range []string{"nope", "etc/passwd/x", "gone/sub"} {
		_, terr := describeErr(tars, sub)
		_, serr := describeErr(DirLayers(dirs), sub)
		if terr == nil || serr == nil || terr.Error() != serr.Error() {
			t.Errorf("subtree %q: tree error %v, walk error %v", sub, terr, serr)
		}
	}
}

func describeErr(ls []Layer, sub string) ([]byte, error) {
	var buf bytes.Buffer
	err := Flatten(&buf, ls, Options{Subtree: sub})
	return buf.Bytes(), err
}
