package tarball_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/imgtool/imgtool/tarball"
)

func fzTar(hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		tw.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzApply extracts arbitrary layer tars: Apply must never write outside
// the layer dir, and a layer it accepts must reassemble byte-exactly (when
// its files are still there to read).
func FuzzApply(f *testing.F) {
	f.Add(fzTar(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}))
	f.Add(fzTar(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, &tar.Header{Name: "l/x", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}))
	f.Add(fzTar(&tar.Header{Name: "../../x", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}, &tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../x"}))
	f.Add(fzTar(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg}, &tar.Header{Name: ".wh.gone", Typeflag: tar.TypeReg}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		layer := filepath.Join(parent, "layer")
		if err := os.Mkdir(layer, 0o755); err != nil {
			t.Fatal(err)
		}
		var ts bytes.Buffer
		_, err := tarball.Apply(bytes.NewReader(data), layer, &ts, tarball.DefaultApplyOptions())
		if des, _ := os.ReadDir(parent); len(des) != 1 {
			t.Fatalf("Apply wrote outside the layer dir: %v", des)
		}
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := tarball.Assemble(bytes.NewReader(ts.Bytes()), layer, &out); err != nil {
			return // a later entry replaced a file's parent: Docker cannot reassemble either
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("reassembled tar differs from the input (%d vs %d bytes)", out.Len(), len(data))
		}
		n, err := tarball.TarSize(bytes.NewReader(ts.Bytes()))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("TarSize = %d, %v; want %d", n, err, len(data))
		}
	})
}

// FuzzAssemble replays arbitrary tar-split JSON (gzipped here) against a
// small layer dir: no panic, no hang, no read outside the dir.
func FuzzAssemble(f *testing.F) {
	f.Add([]byte(`{"type":2,"payload":"","position":0}` + "\n"))
	f.Add([]byte(`{"type":1,"name":"a","size":3,"payload":"AAAAAAAAAAA=","position":0}` + "\n"))
	f.Add([]byte(`{"type":1,"name":"../../../../etc/passwd","size":10,"payload":"AAAAAAAAAAA=","position":0}` + "\n"))
	f.Fuzz(func(t *testing.T, js []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a"), []byte("abc"), 0o644)
		os.Symlink("/etc/passwd", filepath.Join(dir, "s"))
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(js)
		w.Close()
		var out bytes.Buffer
		tarball.Assemble(bytes.NewReader(gz.Bytes()), dir, &limited{&out, 1 << 20})
		tarball.TarSize(bytes.NewReader(gz.Bytes()))
	})
}

type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, os.ErrInvalid
	}
	return l.w.Write(p)
}
