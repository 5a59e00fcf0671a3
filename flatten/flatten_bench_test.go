package flatten

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchLayers is an image like bench/'s image A in miniature: a base of
// 64 dirs × 64 files of 4 KiB plus one 32 MiB file, a layer that deletes a
// quarter of the files and an opaque directory, and a layer of hardlinks
// and rewritten files.
func benchLayers(b *testing.B) ([][]ent, int64) {
	rng := rand.NewChaCha8([32]byte{5})
	rnd := func(n int) string { p := make([]byte, n); rng.Read(p); return string(p) }
	var base, mid, top []ent
	var n int64
	base = append(base, d("big/"), f("big/random.bin", rnd(32<<20)))
	n += 32 << 20
	for i := range 64 {
		dir := fmt.Sprintf("usr/lib/d%02d/", i)
		base = append(base, d(dir))
		for j := range 64 {
			base = append(base, f(fmt.Sprintf("%sf%02d", dir, j), rnd(4<<10)))
			n += 4 << 10
		}
		for j := 0; j < 64; j += 4 {
			mid = append(mid, wh(fmt.Sprintf("%s.wh.f%02d", dir, j)))
		}
	}
	mid = append(mid, d("usr/lib/d07/"), wh("usr/lib/d07/.wh..wh..opq"), f("usr/lib/d07/only", "only\n"))
	for i := range 16 {
		top = append(top, f(fmt.Sprintf("usr/lib/d%02d/f01", i), rnd(1<<10)),
			hl(fmt.Sprintf("usr/lib/d%02d/link", i), fmt.Sprintf("usr/lib/d%02d/f01", i)))
	}
	return [][]ent{base, mid, top}, n
}

// BenchmarkFlattenTar is flatten of tar layers (export of an image from a
// rootless store, crane export's job).
func BenchmarkFlattenTar(b *testing.B) {
	ls, n := benchLayers(b)
	layers := layers(b, ls...)
	b.SetBytes(n)
	for b.Loop() {
		if err := Flatten(io.Discard, layers, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlattenDir is flatten of one unpacked directory (export from an
// overlay2 store as root: each byte read once from the diff dirs).
func BenchmarkFlattenDir(b *testing.B) {
	dir := b.TempDir()
	rng := rand.NewChaCha8([32]byte{6})
	buf := make([]byte, 32<<20)
	rng.Read(buf)
	var n int64
	if err := os.WriteFile(filepath.Join(dir, "random.bin"), buf, 0o644); err != nil {
		b.Fatal(err)
	}
	n += int64(len(buf))
	for i := range 64 {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i))
		os.Mkdir(sub, 0o755)
		for j := range 64 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%02d", j)), buf[j<<12:(j+1)<<12], 0o644); err != nil {
				b.Fatal(err)
			}
			n += 4 << 10
		}
	}
	b.SetBytes(n)
	for b.Loop() {
		if err := Flatten(io.Discard, []Layer{DirLayer(dir)}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
