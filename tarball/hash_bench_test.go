package tarball

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// benchRandom is n deterministic pseudo-random bytes (incompressible, like
// the 50 MiB and 1 GiB layers of bench/).
func benchRandom(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// BenchmarkHashingReader is the sha256 ceiling every digest-checked stream
// (save, load, convert) runs into: one core, whatever the disk. On CPUs
// without SHA-NI (e.g. the 2-core Xeon of docs/benchmarks.md) it is
// ~250 MB/s.
func BenchmarkHashingReader(b *testing.B) {
	in := benchRandom(64 << 20)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		hr := NewHashingReader(bytes.NewReader(in))
		if _, err := io.CopyBuffer(io.Discard, hr, buf); err != nil {
			b.Fatal(err)
		}
		hr.Sum()
	}
}

// BenchmarkDecompress measures the read side of compressed archives
// (load of a gzip/zstd layer).
func BenchmarkDecompress(b *testing.B) {
	// Half random, half text-like: compressible but not trivially so.
	in := append(benchRandom(16<<20), bytes.Repeat([]byte("usr/share/locale/xx/LC_MESSAGES/file.mo\x00"), (16<<20)/40)...)
	var gzb, zsb bytes.Buffer
	gw := pgzip.NewWriter(&gzb)
	gw.Write(in)
	gw.Close()
	zw, _ := zstd.NewWriter(&zsb)
	zw.Write(in)
	zw.Close()
	for _, c := range []struct {
		name string
		data []byte
	}{{"gzip", gzb.Bytes()}, {"zstd", zsb.Bytes()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				rc, _, err := Decompress(bytes.NewReader(c.data))
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				if err != nil || n != int64(len(in)) {
					b.Fatalf("%d bytes, %v", n, err)
				}
				rc.Close()
			}
		})
	}
}

// BenchmarkAssemble is save's inner loop alone: regenerate a layer tar
// from its tar-split and unpacked directory (BenchmarkApplyAssemble also
// times Apply).
func BenchmarkAssemble(b *testing.B) {
	in := benchLayer(b)
	layer := b.TempDir()
	var ts bytes.Buffer
	if _, err := Apply(bytes.NewReader(in), layer, &ts, DefaultApplyOptions()); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		rc := AssembleReader(bytes.NewReader(ts.Bytes()), layer)
		n, err := io.CopyBuffer(io.Discard, rc, buf)
		rc.Close()
		if err != nil || n != int64(len(in)) {
			b.Fatalf("assembled %d bytes, %v", n, err)
		}
	}
}
