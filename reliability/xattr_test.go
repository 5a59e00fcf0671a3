package reliability

import (
	"archive/tar"
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"testing"
)

// A layer that sets overlay xattrs itself must not change what the image
// holds: trusted.overlay.opaque on a directory of the upper layer would
// hide the lower layer's files in export (and in a real overlay mount),
// trusted.overlay.redirect would point a directory elsewhere. Only
// whiteouts hide files, as in Docker's tar form.
func TestArchiveCannotSetOverlayXattrs(t *testing.T) {
	requireRoot(t)
	lower := mkTar(t, tarEnt{name: "d/", typ: tar.TypeDir}, tarEnt{name: "d/lower-file", body: []byte("lower\n")},
		tarEnt{name: "e/", typ: tar.TypeDir}, tarEnt{name: "e/kept", body: []byte("kept\n")})
	upper := xattrTar(t, map[string]map[string]string{
		"d/": {"trusted.overlay.opaque": "y"},
		"e/": {"trusted.overlay.redirect": "/d"},
	}, tarEnt{name: "d/", typ: tar.TypeDir}, tarEnt{name: "d/upper-file", body: []byte("upper\n")},
		tarEnt{name: "e/", typ: tar.TypeDir})
	dir := t.TempDir()
	archive := filepath.Join(dir, "x.tar")
	writeArchive(t, archive, newImage("xattr:1", lower, upper))
	store := filepath.Join(dir, "store")
	mustImgtool(t, store, "load", "-i", archive)
	out := mustImgtool(t, store, "export", "xattr:1")
	got := tarNames(t, []byte(out.stdout))
	for _, want := range []string{"d/lower-file", "d/upper-file", "e/kept"} {
		if !got[want] {
			names := make([]string, 0, len(got))
			for n := range got {
				names = append(names, n)
			}
			sort.Strings(names)
			t.Errorf("export lost %s (the archive's xattrs took effect): %q", want, names)
		}
	}
	checkStore(t, run{root: store})
	// The dropped xattrs are still in tar-split: save gives the layer back.
	mustImgtool(t, store, "save", "-o", filepath.Join(dir, "back.tar"), "xattr:1")
	mustImgtool(t, store, "verify", "docker-archive:"+filepath.Join(dir, "back.tar"))
}

func xattrTar(t *testing.T, xattrs map[string]map[string]string, ents ...tarEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, ModTime: epoch, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		for k, v := range xattrs[e.name] {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	return buf.Bytes()
}

func tarNames(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
}
