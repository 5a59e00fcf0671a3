package tarball

import (
	"bufio"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Buffers reused from one layer to the next. Each layer a load unpacks or
// a save assembles used to allocate ~4 MiB of its own (eight hasher
// chunks, a 1 MiB tar-split tail buffer, bufio buffers, a gzip
// compressor): for an archive of 1,000 small layers that was 4 GB of
// garbage, a GC cycle every few layers and a heap peak twice the live
// data. sync.Pool keeps what the layers in flight use and gives the rest
// back to the GC (TestSmallLayersReuseBuffers).

// bytePool hands out []byte of one size.
type bytePool struct {
	size int
	p    sync.Pool
}

func newBytePool(size int) *bytePool { return &bytePool{size: size} }

func (b *bytePool) get() *[]byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return v
	}
	buf := make([]byte, b.size)
	return &buf
}

func (b *bytePool) put(buf *[]byte) { b.p.Put(buf) }

var (
	contentBufs = newBytePool(contentChunk)
	extractBufs = newBytePool(extractBuf)
	asideBufs   = sync.Pool{New: func() any { return &chunk{buf: make([]byte, asideChunk)} }}
	// headerReaders serve the layer tar to tar-split's reader (Apply).
	headerReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headerBuf) }}
	// assemblyWriters batch an assembled tar into the pipe (AssembleReader).
	assemblyWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, assemblyBuf) }}
	// entryReaders serve tar-split's JSON lines (lineUnpacker).
	entryReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, entryBuf) }}
	gzipWriters  sync.Pool
	gzipReaders  sync.Pool
)

const (
	headerBuf   = 256 << 10
	assemblyBuf = 256 << 10
	entryBuf    = 64 << 10
	extractBuf  = 256 << 10
)

func getReader(p *sync.Pool, r io.Reader) *bufio.Reader {
	br := p.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(p *sync.Pool, br *bufio.Reader) {
	br.Reset(nil)
	p.Put(br)
}

func getWriter(p *sync.Pool, w io.Writer) *bufio.Writer {
	bw := p.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(p *sync.Pool, bw *bufio.Writer) {
	bw.Reset(nil)
	p.Put(bw)
}

// getGzipWriter is gzip.NewWriter(w) with a reused compressor: Reset
// gives the same bytes as a new writer.
func getGzipWriter(w io.Writer) *gzip.Writer {
	if gz, ok := gzipWriters.Get().(*gzip.Writer); ok {
		gz.Reset(w)
		return gz
	}
	return gzip.NewWriter(w)
}

// putGzipWriter takes back a closed writer.
func putGzipWriter(gz *gzip.Writer) {
	gz.Reset(nil)
	gzipWriters.Put(gz)
}

// getGzipReader is gzip.NewReader(r) with a reused decompressor.
func getGzipReader(r io.Reader) (*gzip.Reader, error) {
	if gz, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := gz.Reset(r); err != nil {
			gzipReaders.Put(gz)
			return nil, err
		}
		return gz, nil
	}
	return gzip.NewReader(r)
}

// putGzipReader takes back a reader that is done with.
func putGzipReader(gz *gzip.Reader) {
	gz.Close()
	gzipReaders.Put(gz)
}
