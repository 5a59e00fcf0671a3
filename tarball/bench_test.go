package tarball

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// benchLayer is a ~64 MiB layer: 48 MiB in 192 files of 256 KiB and 16 MiB
// in 4096 files of 4 KiB, spread over 64 directories.
func benchLayer(b *testing.B) []byte {
	rng := rand.NewChaCha8([32]byte{1})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, size int) {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(size), ModTime: testTime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(tw, rng, int64(size)); err != nil {
			b.Fatal(err)
		}
	}
	for d := range 64 {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("d%02d/", d), Mode: 0o755, ModTime: testTime}); err != nil {
			b.Fatal(err)
		}
		for i := range 3 {
			add(fmt.Sprintf("d%02d/big%d", d, i), 256<<10)
		}
		for i := range 64 {
			add(fmt.Sprintf("d%02d/small%02d", d, i), 4<<10)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkApplyAssemble(b *testing.B) {
	in := benchLayer(b)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		layer := b.TempDir()
		var ts bytes.Buffer
		if _, err := Apply(bytes.NewReader(in), layer, &ts, DefaultApplyOptions()); err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, AssembleReader(&ts, layer))
		if err != nil || n != int64(len(in)) {
			b.Fatalf("assembled %d bytes, %v", n, err)
		}
	}
}
