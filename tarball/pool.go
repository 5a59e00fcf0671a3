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
	headerReaders = newResetPool[*bufio.Reader, io.Reader](func() *bufio.Reader { return bufio.NewReaderSize(nil, headerBuf) })
	// assemblyWriters batch an assembled tar into the pipe (AssembleReader).
	assemblyWriters = newResetPool[*bufio.Writer, io.Writer](func() *bufio.Writer { return bufio.NewWriterSize(nil, assemblyBuf) })
	// entryReaders serve tar-split's JSON lines (lineUnpacker).
	entryReaders = newResetPool[*bufio.Reader, io.Reader](func() *bufio.Reader { return bufio.NewReaderSize(nil, entryBuf) })
	// gzipWriters compress tar-split (Apply); Reset keeps the compressor
	// and gives the same bytes as a new writer.
	gzipWriters = newResetPool[*gzip.Writer, io.Writer](func() *gzip.Writer { return gzip.NewWriter(nil) })
	gzipReaders sync.Pool
)

const (
	headerBuf   = 256 << 10
	assemblyBuf = 256 << 10
	entryBuf    = 64 << 10
	extractBuf  = 256 << 10
)

// resetPool holds values that Reset onto a new stream: bufio readers and
// writers, gzip writers.
type resetPool[T interface{ Reset(S) }, S any] struct{ p sync.Pool }

func newResetPool[T interface{ Reset(S) }, S any](fresh func() T) *resetPool[T, S] {
	return &resetPool[T, S]{p: sync.Pool{New: func() any { return fresh() }}}
}

// get returns a value Reset onto s.
func (p *resetPool[T, S]) get(s S) T {
	v := p.p.Get().(T)
	v.Reset(s)
	return v
}

// put takes v back once its stream is done with, Reset onto nothing so
// that it holds no reference to it.
func (p *resetPool[T, S]) put(v T) {
	var none S
	v.Reset(none)
	p.p.Put(v)
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
