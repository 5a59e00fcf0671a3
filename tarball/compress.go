// Package tarball holds the tar primitives every format shares: compression
// sniffing, confined extraction into a layer directory, whiteout conversion,
// tar-split recording and replay, and hashing tees.
package tarball

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"
)

// Compression is a stream compression format, detected by magic bytes.
type Compression int

const (
	None Compression = iota
	Gzip
	Zstd
	Xz
	Bzip2
)

func (c Compression) String() string {
	return [...]string{"none", "gzip", "zstd", "xz", "bzip2"}[c]
}

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b, 0x08}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Bzip2, []byte{'B', 'Z', 'h'}},
}

// Sniff reports the compression of the stream behind br without consuming it.
func Sniff(br *bufio.Reader) Compression {
	head, _ := br.Peek(6)
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	// zstd skippable frames (0x184D2A50..5F) may precede the first frame.
	if len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18 {
		return Zstd
	}
	return None
}

// Decompress returns the uncompressed stream of r, whatever its compression.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	c := Sniff(br)
	rc, err := decompressor(c, br)
	if err != nil {
		return nil, c, fmt.Errorf("reading %s stream: %w", c, err)
	}
	return rc, c, nil
}

func decompressor(c Compression, r io.Reader) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		zr, err := pgzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		// Hide pgzip's WriteTo: it reports a failed write (ENOSPC) as
		// io.ErrShortWrite, losing the real error.
		return struct {
			io.Reader
			io.Closer
		}{zr, zr}, nil
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case Xz:
		x, err := xz.NewReader(r)
		return io.NopCloser(x), err
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	}
	return io.NopCloser(r), nil
}

// pgzipBlock is the fixed pgzip block size: the output depends only on the
// input, the level and this size, never on the number of goroutines or
// blocks in flight, so the same layer always compresses to the same
// digest (with this build). It is pgzip's default size, which skopeo uses
// too; skopeo's blobs still differ where its klauspost/compress version
// does (TestGzipLayersLikeSkopeo).
const pgzipBlock = 1 << 20

// NewGzipWriter is the gzip writer of every blob imgtool compresses:
// pgzip at level (0: its default) with 1 MiB blocks, one block more in
// flight than there are CPUs, so a core that finishes a block finds the
// next one filled (the caller fills it while hashing). With one block a
// CPU, a save --compress gzip of the debootstrap rootfs took 1.39-1.45 s
// on two cores, with one more 1.25-1.33 s, for 6 MiB more memory.
func NewGzipWriter(w io.Writer, level int) (*pgzip.Writer, error) {
	if level == 0 {
		level = pgzip.DefaultCompression
	}
	zw, err := pgzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, fmt.Errorf("gzip level %d: %v", level, err)
	}
	if err := zw.SetConcurrency(pgzipBlock, max(1, runtime.GOMAXPROCS(0))+1); err != nil {
		return nil, err
	}
	return zw, nil
}
