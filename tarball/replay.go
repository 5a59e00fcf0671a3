package tarball

import (
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/imgtool/imgtool/overlay"
)

// AssembleReader regenerates the layer tar like Assemble, as a reader that
// fills the caller's buffer straight from the files (one read syscall into
// p, no goroutine, pipe or copy buffer in between) and does not check each
// file's crc64. That is for consumers that hash the whole stream against
// the layer's diff ID anyway (save, push, convert, squash all do): the
// crc64 pass was a quarter of save's CPU on big files and catches nothing
// the diff ID misses; it only names the file, which `check --deep`
// (Verified, through Assemble) still does. A file whose size on disk
// differs from the recorded one fails here, naming it, before any of its
// bytes are returned. Hand-written because tar-split's
// WriteOutputTarStream always checksums and pushes through a 32 KiB
// buffer and a pipe.
func AssembleReader(tarSplit io.Reader, dir string) io.ReadCloser {
	r := &replayReader{}
	r.err = r.open(tarSplit, dir)
	return r
}

type replayReader struct {
	root    *os.Root
	chain   *overlay.DirChain
	gz      *gzip.Reader
	up      *lineUnpacker
	segment []byte        // raw tar bytes of the current segment not yet returned
	file    io.ReadCloser // the current file entry's content, if open
	name    string        // its name, for errors
	left    int64         // its bytes not yet returned
	err     error         // sticky: io.EOF at the end, or the first failure
}

func (r *replayReader) open(tarSplit io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	r.root = root
	if r.gz, err = getGzipReader(tarSplit); err != nil {
		return fmt.Errorf("reading tar-split: %w", err)
	}
	if r.chain, err = overlay.NewDirChain(root); err != nil {
		return err
	}
	r.up = newLineUnpacker(r.gz)
	return nil
}

func (r *replayReader) Read(p []byte) (int, error) {
	for r.err == nil {
		switch {
		case len(r.segment) > 0:
			n := copy(p, r.segment)
			r.segment = r.segment[n:]
			return n, nil
		case r.left > 0:
			return r.readFile(p)
		default:
			r.err = r.next()
		}
	}
	return 0, r.err
}

// readFile returns the current file's next bytes, at most what tar-split
// recorded, and fails if the file ends early.
func (r *replayReader) readFile(p []byte) (int, error) {
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.file.Read(p)
	r.left -= int64(n)
	if r.left == 0 {
		r.closeFile()
	} else if err == io.EOF || (n == 0 && err == nil) {
		r.err = fmt.Errorf("layer entry %q: the file is shorter than the layer recorded; the layer store's files were modified", r.name)
	} else if err != nil {
		r.err = fmt.Errorf("layer entry %q: %w", r.name, err)
	}
	return n, nil
}

// next moves to the next tar-split entry: a segment of raw tar bytes, or a
// file whose content follows.
func (r *replayReader) next() error {
	e, err := r.up.Next()
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("reading tar-split: %w", err)
	}
	switch e.Type {
	case storage.SegmentType:
		r.segment = e.Payload
	case storage.FileType:
		if e.Size == 0 {
			return nil
		}
		name := e.GetName()
		f, size, err := overlay.OpenRegular(r.root, r.chain, overlay.Clean(name))
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", name, err)
		}
		if size != e.Size {
			f.Close()
			return fmt.Errorf("layer entry %q: %d bytes on disk, the layer recorded %d; the layer store's files were modified", name, size, e.Size)
		}
		r.file, r.name, r.left = f, name, e.Size
	}
	return nil
}

func (r *replayReader) closeFile() {
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
}

// Close releases the open file, directories, the decompressor and the
// unpacker's buffer (back to their pools); the tar-split stream is no
// longer read once it returns. A second Close does nothing.
func (r *replayReader) Close() error {
	r.closeFile()
	if r.chain != nil {
		r.chain.Close()
		r.chain = nil
	}
	if r.up != nil {
		r.up.release()
		r.up = nil
	}
	if r.gz != nil {
		putGzipReader(r.gz)
		r.gz = nil
	}
	if r.root != nil {
		r.root.Close()
		r.root = nil
	}
	if r.err == nil {
		r.err = os.ErrClosed
	}
	return nil
}
