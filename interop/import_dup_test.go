package interop

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// dupTar writes headers (regular files get an empty body) as PAX.
func dupTar(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.Format = tar.FormatPAX
		if h.Typeflag != tar.TypeXGlobalHeader { // it takes a name and records only
			h.ModTime = time.Unix(1700000000, 0)
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layers that repeat a path, or only seem to, are refused or accepted by
// imgtool import as Docker's import (its layer store packs tar-split, which
// refuses a name it has seen) does with the same tar. imgtool finds
// duplicates without a set of every name (tarball/dup.go); this pins the
// cases where that could drift from Docker's verdict.
func TestImportDuplicatePathsLikeDocker(t *testing.T) {
	d := dockertest.Shared(t)
	reg := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir} }
	global := func(name string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "g"}}
	}
	cases := map[string][]tar.Header{
		"same-name":            {reg("a"), reg("./a")},
		"dir-twice":            {dir("d/"), reg("d/x"), dir("d")},
		"root-twice":           {dir("./"), dir(".")},
		"root-slash-and-dot":   {dir("/"), dir("./")},
		"implicit-then-entry":  {reg("p/x"), dir("p/")},
		"implicit-then-file":   {reg("p/x"), reg("p")},
		"whiteout-twice":       {reg(".wh.gone"), reg(".wh.gone")},
		"opaque-twice":         {dir("o/"), reg("o/.wh..wh..opq"), reg("o/.wh..wh..opq")},
		"global-header-twice":  {global("g"), global("g")},
		"global-header-file":   {global("a"), reg("a")},
		"symlink-twice":        {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "x"}, {Name: "l", Typeflag: tar.TypeSymlink, Linkname: "y"}},
		"hardlink-twice":       {reg("a"), {Name: "b", Typeflag: tar.TypeLink, Linkname: "a"}, {Name: "b", Typeflag: tar.TypeLink, Linkname: "a"}},
		"via-symlink-and-name": {dir("d/"), reg("d/x"), {Name: "l", Typeflag: tar.TypeSymlink, Linkname: "d"}, reg("l/x")},
	}
	tmp := t.TempDir()
	st := newStore(t)
	for name, hdrs := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(tmp, name+".tar")
			if err := os.WriteFile(p, dupTar(t, hdrs...), 0o644); err != nil {
				t.Fatal(err)
			}
			tag := "test/dup-" + name + ":1"
			_, derr, err := d.DockerErr("import", p, tag)
			dockerOK := err == nil
			if dockerOK {
				d.DockerErr("rmi", tag)
			}
			r := dockertest.Imgtool(t, "--root", st, "import", p, tag)
			if r.OK() != dockerOK {
				t.Errorf("docker import ok=%v (%s), imgtool import ok=%v (%s)", dockerOK, strings.TrimSpace(derr), r.OK(), strings.TrimSpace(r.Stderr))
			}
			if !r.OK() && !strings.Contains(r.Stderr, "duplicates of file paths not supported") {
				t.Errorf("imgtool import: %s", r.Stderr)
			}
			t.Logf("docker: ok=%v %s", dockerOK, strings.TrimSpace(derr))
		})
	}
}
