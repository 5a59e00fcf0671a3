package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
)

// tf is one member of a hand-built tar.
type tf struct {
	name string
	body []byte
	typ  byte   // 0 = regular
	link string // for symlinks/hardlinks
}

func mkTar(t testing.TB, files []tf) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
		if f.typ != 0 {
			h.Typeflag, h.Size, h.Linkname = f.typ, 0, f.link
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(f.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func gz(t testing.TB, b []byte) []byte {
	var o bytes.Buffer
	w := gzip.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testLayers are three small layer tars; the first two are shared by the
// test images.
var testLayers = func() [][]byte {
	var out [][]byte
	for i, content := range []string{"base", "middle", "top<>&"} {
		out = append(out, mkTar(&testing.T{}, []tf{
			{name: "etc/", typ: tar.TypeDir},
			{name: "etc/f" + string(rune('0'+i)), body: []byte(content + "\n")},
		}))
	}
	return out
}()

// configFor builds a config (with an HTML-escapable env and a fixed
// created) for the given layers; os may be "" to omit it.
func configFor(t testing.TB, layers [][]byte, os string) []byte {
	var diffs []string
	for _, l := range layers {
		diffs = append(diffs, sha(l).String())
	}
	m := map[string]any{
		"architecture": "amd64",
		"created":      "2024-01-02T03:04:05.123456789Z",
		"config":       map[string]any{"Env": []string{"A=<b>&c"}, "Cmd": []string{"/bin/sh"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffs},
		"history":      []any{},
	}
	if os != "" {
		m["os"] = os
	}
	return mustJSON(t, m)
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openBytes(t testing.TB, b []byte) *Archive {
	t.Helper()
	a, err := Open(writeTemp(t, b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func readAllRC(t testing.TB, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkImage asserts config bytes, diff IDs and uncompressed layer bytes.
func checkImage(t testing.TB, img v1.Image, config []byte, layers [][]byte) {
	t.Helper()
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, config) {
		t.Fatalf("config differs:\n got %s\nwant %s", raw, config)
	}
	id, _ := img.ConfigName()
	if id != sha(config) {
		t.Fatalf("ConfigName %s", id)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(layers) {
		t.Fatalf("%d layers, want %d", len(ls), len(layers))
	}
	for i, l := range ls {
		d, _ := l.DiffID()
		if d != sha(layers[i]) {
			t.Fatalf("layer %d diffID %s", i, d)
		}
		if got := readAllRC(t, l.Uncompressed); !bytes.Equal(got, layers[i]) {
			t.Fatalf("layer %d: uncompressed bytes differ", i)
		}
		comp := readAllRC(t, l.Compressed)
		if sz, _ := l.Size(); sz != int64(len(comp)) {
			t.Fatalf("layer %d: Size %d, compressed %d", i, sz, len(comp))
		}
		if dg, _ := l.Digest(); dg != sha(comp) {
			t.Fatalf("layer %d: Digest %s != sha of blob %s", i, dg, sha(comp))
		}
	}
	if _, err := img.Manifest(); err != nil {
		t.Fatal(err)
	}
}

func tagStrings(e item.Item) []string {
	var s []string
	for _, t := range e.Tags {
		s = append(s, reference.FullyQualified(t))
	}
	return s
}
