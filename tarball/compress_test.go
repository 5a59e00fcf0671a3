package tarball

import (
	"bytes"
	"io"
	"math/rand"
	"runtime"
	"testing"

	"github.com/klauspost/pgzip"
)

// TestGzipWriterBytes: NewGzipWriter's output for an input of several
// blocks (text and random data) is the same whatever the number of CPUs
// (the blocks in flight follow it), the same as a pgzip writer with its
// defaults (the settings skopeo compresses with), and decompresses to
// the input.
func TestGzipWriterBytes(t *testing.T) {
	in := make([]byte, 0, 5<<20+123)
	for len(in) < 3<<20 {
		in = append(in, "usr/share/doc/some-package/changelog.Debian.gz\n"...)
	}
	noise := make([]byte, 2<<20+123)
	rand.New(rand.NewSource(5)).Read(noise)
	in = append(in, noise...)

	compress := func(newWriter func(io.Writer) (io.WriteCloser, error)) []byte {
		var out bytes.Buffer
		zw, err := newWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		for rest := in; len(rest) > 0; {
			n := min(len(rest), 300<<10+1)
			if _, err := zw.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	want := compress(func(w io.Writer) (io.WriteCloser, error) { return pgzip.NewWriterLevel(w, pgzip.DefaultCompression) })
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, cpus := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(cpus)
		got := compress(func(w io.Writer) (io.WriteCloser, error) { return NewGzipWriter(w, 0) })
		if !bytes.Equal(got, want) {
			t.Errorf("%d CPUs: %d bytes, pgzip's defaults give %d (or other bytes)", cpus, len(got), len(want))
		}
	}
	zr, err := pgzip.NewReader(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(back, in) {
		t.Fatalf("decompressed %d bytes (%v), want the %d compressed", len(back), err, len(in))
	}
}
