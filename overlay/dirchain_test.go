package overlay

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The chain serves only real directories at their paths: a symlinked
// parent is left to the os.Root (ok=false), and after Invalidate a path
// whose directory was replaced is opened afresh, never through a stale fd.
func TestDirChainConfinement(t *testing.T) {
	top := t.TempDir()
	layer := filepath.Join(top, "layer")
	outside := filepath.Join(top, "outside")
	for _, d := range []string{"layer/a/b", "layer/c", "outside/b"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(layer, "link")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c, err := NewDirChain(root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	inode := func(fd int) uint64 {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	lstatIno := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	fd, ok := c.Open("a/b")
	if !ok || inode(fd) != lstatIno(filepath.Join(layer, "a/b")) {
		t.Fatalf("a/b: ok=%v", ok)
	}
	if fd, ok := c.Open("c"); !ok || inode(fd) != lstatIno(filepath.Join(layer, "c")) {
		t.Fatalf("c after a/b: ok=%v", ok)
	}
	if _, ok := c.Open("link/b"); ok {
		t.Fatal("link/b opened through a symlinked parent")
	}
	if _, ok := c.Open("missing/x"); ok {
		t.Fatal("missing parent opened")
	}
	// Replace a by a symlink to outside: after Invalidate, a/b must not be
	// served from the old fd, nor through the new symlink.
	if _, ok := c.Open("a/b"); !ok {
		t.Fatal("a/b again")
	}
	c.Invalidate("a")
	if err := os.RemoveAll(filepath.Join(layer, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(layer, "a")); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Open("a/b"); ok {
		t.Fatal("a/b served after a became a symlink")
	}
	// OpenRegular falls back to the os.Root, which resolves the symlink
	// inside the root only: outside/b is not reachable.
	if err := os.WriteFile(filepath.Join(outside, "b", "f"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rc, _, err := OpenRegular(root, c, "a/b/f"); err == nil {
		rc.Close()
		t.Fatal("a/b/f read through a symlink leading outside the root")
	}
	if err := os.WriteFile(filepath.Join(layer, "c", "f"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, size, err := OpenRegular(root, c, "c/f")
	if err != nil || size != 2 {
		t.Fatalf("c/f: size %d, %v", size, err)
	}
	rc.Close()
}
