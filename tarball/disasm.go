package tarball

import (
	"archive/tar"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
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
// reader, through the crc64 tar-split records for it. Hand-written
// because asm has no in-line form; TestDisassemblerMatchesTarSplit
// compares the streams.
type disassembler struct {
	src   io.Reader // the layer tar, buffered
	tr    *forktar.Reader
	p     storage.Packer
	crc   hash.Hash64
	chunk *[]byte // from contentBufs, until putBufs
}

// contentChunk is what tar-split's bit-bucket FilePutter reads at a time.
// Reads stay below the source's buffer size, so the buffer is refilled
// exactly as under tar-split and trailing bytes are cut into the same
// segments.
const contentChunk = 64 << 10

func newDisassembler(src io.Reader, p storage.Packer) *disassembler {
	tr := forktar.NewReader(src)
	tr.RawAccounting = true
	return &disassembler{src: src, tr: tr, p: p, crc: crc64.New(storage.CRCTable), chunk: contentBufs.get()}
}

// putBufs gives the content buffer back once the stream is recorded.
func (d *disassembler) putBufs() {
	contentBufs.put(d.chunk)
	d.chunk = nil
}

func (d *disassembler) segment(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return d.add(storage.Entry{Type: storage.SegmentType, Payload: b})
}

func (d *disassembler) add(e storage.Entry) error {
	if _, err := d.p.AddEntry(e); err != nil {
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
	d.crc.Reset()
	return stdHeader(hdr), nil
}

// Read reads the current entry's content, summing it.
func (d *disassembler) Read(p []byte) (int, error) {
	if len(p) > contentChunk {
		p = p[:contentChunk]
	}
	n, err := d.tr.Read(p)
	d.crc.Write(p[:n])
	return n, err
}

// done reads what the extractor left of the entry hdr and records it.
func (d *disassembler) done(hdr *tar.Header) error {
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{d}, *d.chunk); err != nil {
		return err
	}
	e := storage.Entry{Type: storage.FileType, Size: hdr.Size}
	if hdr.Size > 0 {
		e.Payload = d.crc.Sum(nil) // even when nothing was read, as asm does
	}
	e.SetName(hdr.Name)
	if err := d.add(e); err != nil {
		return err
	}
	return d.segment(d.tr.RawBytes())
}

// tail records the bytes after the end-of-archive blocks, 1 MiB at most a
// segment as asm does.
func (d *disassembler) tail() error {
	bp := tailBufs.get()
	defer tailBufs.put(bp)
	buf := *bp
	for {
		n, err := d.src.Read(buf)
		if serr := d.segment(buf[:n]); serr != nil {
			return serr
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
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
