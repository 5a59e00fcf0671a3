package tarball

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"

	forktar "github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/storage"
)

// disassembler records a layer tar as tar-split's asm.NewInputTarStream
// does (the same entries in the same order, from tar-split's archive/tar
// fork with RawAccounting), but in line on the extracting goroutine:
// NewInputTarStream parses its own copy on another goroutine and hands
// every byte over through an io.Pipe (~3.5 futex calls an entry). Here
// the extractor reads each entry's content straight from the fork's
// reader, and the recorder sums it for tar-split on its own goroutine
// (recorder.go). Hand-written
// because asm has no in-line form; TestDisassemblerMatchesTarSplit
// compares the streams.
type disassembler struct {
	src   *bufio.Reader // the layer tar
	tr    *forktar.Reader
	rec   *recorder // nil: nothing is recorded
	chunk *[]byte   // from contentBufs, until putBufs
}

// contentChunk is what tar-split's bit-bucket FilePutter reads at a time.
// Reads stay below the source's buffer size, so the buffer is refilled
// exactly as under tar-split and trailing bytes are cut into the same
// segments.
const contentChunk = 64 << 10

func newDisassembler(src *bufio.Reader, rec *recorder) *disassembler {
	tr := forktar.NewReader(src)
	tr.RawAccounting = true
	return &disassembler{src: src, tr: tr, rec: rec, chunk: contentBufs.get()}
}

// putBufs gives the content buffer back once the stream is recorded.
func (d *disassembler) putBufs() {
	contentBufs.put(d.chunk)
	d.chunk = nil
}

// segment records raw bytes. The recorder copies them: RawBytes and Peek
// return the reader's own buffers, which the next read overwrites while
// the recorder's goroutine may still hold the entry.
func (d *disassembler) segment(b []byte) error {
	if len(b) == 0 || d.rec == nil {
		return nil
	}
	if err := d.rec.segment(b); err != nil {
		return fmt.Errorf("recording tar-split: %w", err)
	}
	return nil
}

func (d *disassembler) add(kind recordKind, e storage.Entry) error {
	if err := d.rec.add(kind, e); err != nil {
		return fmt.Errorf("recording tar-split: %w", err)
	}
	return nil
}

// next returns the next entry's header after recording the bytes before
// it, or io.EOF after recording the end-of-archive blocks.
func (d *disassembler) next() (*tar.Header, error) {
	hdr, err := d.tr.Next()
	if errors.Is(err, io.EOF) {
		if err := d.segment(d.tr.RawBytes()); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	if hdr == nil {
		return nil, io.EOF // as asm: nothing more is recorded but the tail
	}
	if err := d.segment(d.tr.RawBytes()); err != nil {
		return nil, err
	}
	return stdHeader(hdr), nil
}

// Read reads the current entry's content, handing it to the recorder.
func (d *disassembler) Read(p []byte) (int, error) {
	if len(p) > contentChunk {
		p = p[:contentChunk]
	}
	n, err := d.tr.Read(p)
	if d.rec != nil {
		d.rec.content(p[:n])
	}
	return n, err
}

// done reads what the extractor left of the entry hdr and records it.
func (d *disassembler) done(hdr *tar.Header) error {
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{d}, *d.chunk); err != nil {
		return err
	}
	if d.rec != nil {
		e := storage.Entry{Type: storage.FileType, Size: hdr.Size} // the recorder sums it
		e.SetName(hdr.Name)
		if err := d.add(recordFile, e); err != nil {
			return err
		}
	}
	return d.segment(d.tr.RawBytes())
}

// tail records the bytes after the end-of-archive blocks as asm does: a
// segment for each read of the source. It reads them through the source's
// own buffer (Peek) rather than into asm's 1 MiB buffer, which every layer
// needed only to see EOF: each segment is still one read of the
// underlying stream, as long as a read returns at most the buffer's size.
// Apply's stream (the aside hasher's pipe) returns at most one 256 KiB
// chunk a read, the size of the buffer; TestDisassemblerMatchesTarSplit
// compares with asm over that stream, big trailers included.
func (d *disassembler) tail() error {
	for {
		if _, err := d.src.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := d.src.Buffered()
		b, _ := d.src.Peek(n)
		if err := d.segment(b); err != nil {
			return err
		}
		d.src.Discard(n)
	}
}

// stdHeader is the fork's header as archive/tar's.
func stdHeader(h *forktar.Header) *tar.Header {
	return &tar.Header{
		Typeflag: h.Typeflag, Name: h.Name, Linkname: h.Linkname,
		Size: h.Size, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, Uname: h.Uname, Gname: h.Gname,
		ModTime: h.ModTime, AccessTime: h.AccessTime, ChangeTime: h.ChangeTime,
		Devmajor: h.Devmajor, Devminor: h.Devminor,
		PAXRecords: h.PAXRecords, Format: tar.Format(h.Format),
	}
}
