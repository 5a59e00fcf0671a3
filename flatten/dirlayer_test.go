package flatten

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDirLayer builds an overlay-style upper directory (char 0:0 whiteouts,
// trusted.overlay.opaque=y) as root and flattens it over a tar layer.
func TestDirLayer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mknod and trusted.* xattrs")
	}
	up := t.TempDir()
	w := func(name, data string, mode os.FileMode) {
		p := filepath.Join(up, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0755))
		must(t, os.WriteFile(p, []byte(data), mode))
		must(t, os.Chmod(p, mode))
	}
	w("etc/new", "new", 0644)
	w("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644)
	w("opq/fresh", "fresh", 0600)
	w("bin/tool", "tool", 0755)
	must(t, os.Link(filepath.Join(up, "bin/tool"), filepath.Join(up, "bin/tool2")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(up, "pw")))
	must(t, syscall.Mknod(filepath.Join(up, "etc/gone"), syscall.S_IFCHR, 0))
	// The kernel shares one whiteout inode; make ours a hard link too.
	must(t, os.Link(filepath.Join(up, "etc/gone"), filepath.Join(up, ".wh-src")))
	must(t, os.Rename(filepath.Join(up, ".wh-src"), filepath.Join(up, "olddir")))
	must(t, syscall.Mknod(filepath.Join(up, "null"), syscall.S_IFCHR|0666, int(1<<8|3)))
	must(t, syscall.Mkfifo(filepath.Join(up, "fifo"), 0640))
	must(t, syscall.Setxattr(filepath.Join(up, "opq"), "trusted.overlay.opaque", []byte("y"), 0))
	must(t, syscall.Setxattr(filepath.Join(up, "bin/tool"), "user.x", []byte("dropped"), 0))
	caps := "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	must(t, syscall.Setxattr(filepath.Join(up, "bin/tool"), "security.capability", []byte(caps), 0))
	must(t, os.Chmod(filepath.Join(up, "bin/tool"), 04755|os.ModeSetuid)) // after setxattr, which drops suid
	must(t, os.Chmod(filepath.Join(up, "null"), 0666))                    // undo umask
	must(t, os.Chown(filepath.Join(up, "etc/new"), 1000, 1001))
	old := time.Unix(1500000000, 999)
	must(t, os.Chtimes(filepath.Join(up, "etc"), old, old))

	// The generated layer tar itself, Docker ConvertWrite style.
	rc, err := DirLayer(up).Open()
	must(t, err)
	lt, err := io.ReadAll(rc)
	must(t, err)
	rc.Close()
	var names []string
	tr := tar.NewReader(bytes.NewReader(lt))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		names = append(names, h.Name)
		if h.Name == "etc/.wh.gone" && (h.Typeflag != tar.TypeReg || h.Mode != 0600 || h.Linkname != "") {
			t.Errorf("whiteout header %+v", h)
		}
	}
	want := "bin/ bin/tool bin/tool2 etc/ etc/.wh.gone etc/new etc/passwd fifo null .wh.olddir opq/ opq/.wh..wh..opq opq/fresh pw"
	if got := joinSp(names); got != want {
		t.Errorf("dir tar entries:\n got %s\nwant %s", got, want)
	}

	lower := mkTar(t, d("etc/"), f("etc/gone", "g"), f("etc/passwd", "old"), f("etc/group", "grp"),
		d("opq/"), f("opq/stale", "s"), d("opq/sub/"), d("olddir/"), f("olddir/x", "x"))
	out := flat(t, []Layer{bytesLayer(lower, nil), DirLayer(up)}, Options{})
	tool, tool2 := nf("bin/tool", "tool"), nl("bin/tool2", "bin/tool")
	tool.Mode, tool2.Mode = 04755, 04755
	tool.Xattrs = map[string]string{"security.capability": caps}
	tool2.Xattrs = tool.Xattrs
	etcNew := nf("etc/new", "new")
	etcNew.Uid, etcNew.Gid = 1000, 1001
	opqFresh := nf("opq/fresh", "fresh")
	opqFresh.Mode = 0600
	checkTree(t, out,
		nd("bin"), tool, tool2,
		nd("etc"), nf("etc/group", "grp"), etcNew, nf("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
		Node{Path: "fifo", Type: tar.TypeFifo, Mode: 0640},
		Node{Path: "null", Type: tar.TypeChar, Mode: 0666, Devmajor: 1, Devminor: 3},
		nd("opq"), opqFresh, ns("pw", "/etc/passwd"))
	tr = tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "etc/" && h.ModTime.Unix() != 1500000000 {
			t.Errorf("etc/ mtime %v", h.ModTime)
		}
	}
}

func joinSp(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}
