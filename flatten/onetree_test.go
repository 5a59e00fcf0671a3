package flatten

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRootOpaque: an opaque marker at a layer's root hides nothing, whether
// the layer is a tar or a diff dir with the opaque xattr on the dir itself:
// overlayfs ignores a layer root's opacity, so docker export shows the lower
// files (interop TestExportOneTreeDocker). Tars used to hide them.
func TestRootOpaque(t *testing.T) {
	lower := mkTar(t, d("a/"), f("a/x", "x"), f("top", "t"))
	out := flat(t, []Layer{bytesLayer(lower, nil), bytesLayer(mkTar(t, wh(".wh..wh..opq"), f("new", "n")), nil)}, Options{})
	checkTree(t, out, nd("a"), nf("a/x", "x"), nf("new", "n"), nf("top", "t"))
	if os.Geteuid() != 0 {
		t.Skip("the diff dir form needs root for trusted.* xattrs")
	}
	up := t.TempDir()
	must(t, os.WriteFile(filepath.Join(up, "new"), []byte("n"), 0644))
	must(t, os.Chmod(filepath.Join(up, "new"), 0644))
	must(t, syscall.Setxattr(up, "trusted.overlay.opaque", []byte("y"), 0))
	out = flat(t, []Layer{bytesLayer(lower, nil), DirLayer(up)}, Options{})
	checkTree(t, out, nd("a"), nf("a/x", "x"), nf("new", "n"), nf("top", "t"))
}

// TestSubtree: only the path asked for is written, and an inode's first
// name inside it carries the content, whatever names it has outside.
func TestSubtree(t *testing.T) {
	ls := layers(t, []ent{d("h/"), f("h/a", "shared"), hl("h/b", "h/a"), d("h/d/"), hl("h/d/c", "h/a"),
		hl("h/d/e", "h/a"), f("other", "o")})
	checkTree(t, flat(t, ls, Options{Subtree: "/h/b"}), nd("h"), nf("h/b", "shared"))
	checkTree(t, flat(t, ls, Options{Subtree: "h/d/"}), nd("h"), nd("h/d"), nf("h/d/c", "shared"), nl("h/d/e", "h/d/c"))
	checkTree(t, flat(t, ls, Options{Subtree: "../other"}), nf("other", "o"))
	if err := Flatten(io.Discard, ls, Options{Subtree: "h/nope"}); err == nil {
		t.Error("a missing subtree is an error")
	}
}
