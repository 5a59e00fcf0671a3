package overlay

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"": "", ".": "", "./": "", "/": "", "/..": "", "../../x": "x", "/x": "x", "a/../../b": "b",
		"a//b/./c/": "a/b/c", "./etc/passwd": "etc/passwd",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseWhiteout(t *testing.T) {
	type r struct {
		k    Kind
		orig string
	}
	for in, want := range map[string]r{
		"file": {NotWhiteout, ""}, ".whx": {NotWhiteout, ""}, ".wh.x": {Whiteout, "x"},
		".wh..wh..opq": {Opaque, ""}, ".wh..wh.plnk": {Meta, ""}, ".wh.": {Invalid, ""},
		".wh..": {Invalid, ""}, ".wh...": {Invalid, ""}, ".wh..x": {Whiteout, ".x"},
	} {
		if k, o := ParseWhiteout(in); k != want.k || o != want.orig {
			t.Errorf("ParseWhiteout(%q) = %v %q, want %v %q", in, k, o, want.k, want.orig)
		}
	}
	if WhiteoutName("a/b") != "a/.wh.b" || WhiteoutName("b") != ".wh.b" {
		t.Error("WhiteoutName")
	}
	if OpaqueName("") != ".wh..wh..opq" || OpaqueName("d") != "d/.wh..wh..opq" {
		t.Error("OpaqueName")
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod and trusted.* xattrs need root")
	}
}

// walkLines is Walk's output, one "name type mode [-> link]" per entry.
func walkLines(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := Walk(dir, func(h *tar.Header, open func() (*os.File, error)) error {
		l := fmt.Sprintf("%s %c %o", h.Name, h.Typeflag, h.Mode)
		if h.Linkname != "" {
			l += " -> " + h.Linkname
		}
		if open != nil {
			f, err := open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			l += " " + string(b)
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestToOverlayAndWalk: whiteouts written by ToOverlay read back by Walk in
// Docker's tar form, in the lexical order of the names on disk (as Docker's
// walk). A root-level opaque marker sets the xattr on the dir itself, as
// Docker's unpacker does, and is not read back (overlayfs ignores it).
func TestToOverlayAndWalk(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.Mkdir("d", 0o755))
	must(root.WriteFile("d/f", []byte("x"), 0o644))
	must(root.Link("d/f", "d/g"))
	for _, n := range []string{".wh..wh..opq", "d/.wh..wh..opq", "d/.wh.gone", ".wh.top", "d/.wh..wh.plnk"} {
		if ok, err := ToOverlay(root, n, 0, 0, 0); !ok || err != nil {
			t.Fatalf("ToOverlay(%q) = %v, %v", n, ok, err)
		}
	}
	if ok, err := ToOverlay(root, "d/f", 1, 0, 0); ok || err != nil {
		t.Fatalf("ToOverlay of a plain file: %v, %v", ok, err)
	}
	if _, err := ToOverlay(root, ".wh.x", 3, 0, 0); err == nil || !strings.Contains(err.Error(), "content") {
		t.Errorf("whiteout with content: %v", err)
	}
	if _, err := ToOverlay(root, ".wh..", 0, 0, 0); err == nil {
		t.Error("invalid whiteout accepted")
	}
	if !IsOpaquePath(dir) {
		t.Error("root-level marker: no opaque xattr on the diff dir")
	}
	got := strings.Join(walkLines(t, dir), "\n")
	want := strings.Join([]string{
		"d/ 5 755", "d/.wh..wh..opq 0 755", "d/f 0 644 x", "d/g 1 644 -> d/f", "d/.wh.gone 0 600",
		".wh.top 0 600",
	}, "\n")
	if got != want {
		t.Errorf("Walk:\n%s\nwant\n%s", got, want)
	}
}

// TestWalkDeeperThanPathMax: a tree load can make (os.Root, one component
// at a time) is read back and looked up whatever its depth.
func TestWalkDeeperThanPathMax(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	comp := strings.Repeat("n", 250)
	p := ""
	for range 20 {
		p = filepath.Join(p, comp)
		if err := root.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.WriteFile(p+"/f", []byte("deep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := root.Symlink("f", p+"/s"); err != nil {
		t.Fatal(err)
	}
	lines := walkLines(t, dir)
	if len(lines) != 22 || lines[20] != p+"/f 0 644 deep" || lines[21] != p+"/s 2 777 -> f" {
		t.Errorf("%d entries, last %q", len(lines), lines[len(lines)-2:])
	}
	if l, fi, ok := Lookup([]string{t.TempDir(), dir}, "/"+p+"/f"); !ok || l != dir || fi.Size() != 4 {
		t.Errorf("Lookup of the deep file: %q %v %v", l, fi, ok)
	}
}

// TestLookup: topmost wins, whiteouts and opaque dirs hide; an opaque diff
// dir hides nothing (overlayfs ignores a layer root's opacity).
func TestLookup(t *testing.T) {
	needRoot(t)
	base, mid, top := t.TempDir(), t.TempDir(), t.TempDir()
	w := func(dir, name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w(base, "a/x", "base")
	w(base, "b/y", "base")
	w(base, "c", "base")
	w(mid, "a/z", "mid")
	w(mid, "b/new", "mid")
	if err := unix.Setxattr(filepath.Join(mid, "b"), OpaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(mid, "c"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	dirs := []string{base, mid}
	for p, want := range map[string]string{"a/x": base, "a/z": mid, "b/y": "", "b/new": mid, "c": "", "/../a": mid} {
		got, _, ok := Lookup(dirs, p)
		if got != want || ok != (want != "") {
			t.Errorf("Lookup(%q) = %q %v, want %q", p, got, ok, want)
		}
	}
	w(top, "t", "top")
	if err := unix.Setxattr(top, OpaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, top)
	for p, want := range map[string]string{"a/x": base, "a": mid, "b/new": mid, "t": top, "": top} {
		got, _, ok := Lookup(dirs, p)
		if got != want || ok != (want != "") {
			t.Errorf("opaque root: Lookup(%q) = %q %v, want %q", p, got, ok, want)
		}
	}
}

// TestCopyUpDir: the merged view's directory metadata, all mode bits kept.
func TestCopyUpDir(t *testing.T) {
	needRoot(t)
	lower, upper := t.TempDir(), t.TempDir()
	p := filepath.Join(lower, "d")
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 7, 8); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(p, 0o3751); err != nil {
		t.Fatal(err)
	}
	if ok, err := CopyUpDir([]string{lower}, upper, "d"); !ok || err != nil {
		t.Fatalf("CopyUpDir: %v %v", ok, err)
	}
	var a, b unix.Stat_t
	if err := unix.Lstat(p, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(filepath.Join(upper, "d"), &b); err != nil {
		t.Fatal(err)
	}
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Mtim != b.Mtim {
		t.Errorf("copy %o %d:%d %v, want %o %d:%d %v", b.Mode, b.Uid, b.Gid, b.Mtim, a.Mode, a.Uid, a.Gid, a.Mtim)
	}
	if ok, err := CopyUpDir([]string{lower}, upper, "missing"); ok || err != nil {
		t.Errorf("a missing dir: %v %v", ok, err)
	}
}
