package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/tarball"
)

// benchArchive writes a docker-save-style archive (manifest.json + blobs)
// of one image with two layers: one 32 MiB random file, and 2048 files of
// 4 KiB (random, so gzip cannot cheat). Returns its path and size.
func benchArchive(b *testing.B) (string, int64) {
	rng := rand.NewChaCha8([32]byte{3})
	rnd := func(n int) []byte { p := make([]byte, n); rng.Read(p); return p }
	big := mkTar(b, []tf{{name: "data/", typ: tar.TypeDir}, {name: "data/random.bin", body: rnd(32 << 20)}})
	small := []tf{{name: "usr/", typ: tar.TypeDir}}
	for i := range 2048 {
		small = append(small, tf{name: fmt.Sprintf("usr/f%04d", i), body: rnd(4 << 10)})
	}
	layers := [][]byte{big, mkTar(b, small)}
	cfg := configFor(b, layers, "linux")
	files := []tf{{name: "blobs/", typ: tar.TypeDir}, {name: "blobs/sha256/", typ: tar.TypeDir},
		{name: "blobs/sha256/" + sha(cfg).Hex, body: cfg}}
	var paths []string
	for _, l := range layers {
		files = append(files, tf{name: "blobs/sha256/" + sha(l).Hex, body: l})
		paths = append(paths, "blobs/sha256/"+sha(l).Hex)
	}
	mj := mustJSON(b, []map[string]any{{"Config": "blobs/sha256/" + sha(cfg).Hex, "RepoTags": []string{"bench:1"}, "Layers": paths}})
	files = append(files, tf{name: "manifest.json", body: mj})
	p := filepath.Join(b.TempDir(), "bench.tar")
	data := mkTar(b, files)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return p, int64(len(data))
}

// BenchmarkOpen is the one scan that indexes an archive (load's first step;
// it seeks over layer bodies, so its cost is per member, not per byte).
func BenchmarkOpen(b *testing.B) {
	p, _ := benchArchive(b)
	for b.Loop() {
		a, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
}

// BenchmarkReadLayers reads every layer's uncompressed stream of an opened
// archive (what load and convert feed to the store or the writer).
func BenchmarkReadLayers(b *testing.B) {
	p, n := benchArchive(b)
	a, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ls, err := a.Images()[0].Image.Layers()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(n)
	for b.Loop() {
		for _, l := range ls {
			rc, err := l.Uncompressed()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	}
}

// BenchmarkWrite writes the opened archive's image again in each format
// (save's and convert's writer, with diff_id checks and compression).
func BenchmarkWrite(b *testing.B) {
	p, n := benchArchive(b)
	a, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	imgs := []item.Item{{Image: a.Images()[0].Image, Tags: a.Images()[0].Tags}}
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"docker", Options{Format: Docker}},
		{"docker-legacy", Options{Format: DockerLegacy}},
		{"oci-archive", Options{Format: OCIArchive}},
		{"oci-archive-gzip", Options{Format: OCIArchive, Compression: tarball.Gzip}},
		{"oci-archive-zstd", Options{Format: OCIArchive, Compression: tarball.Zstd}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				if err := Write(io.Discard, imgs, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
