package tarball

import (
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
)

// ApplyOptions select how privileged the extraction is.
type ApplyOptions struct {
	// Overlay stores whiteouts in overlayfs form (char devices 0:0 and the
	// trusted.overlay.opaque xattr), which needs root. Without it, whiteouts
	// stay the plain empty .wh.* files they are in the tar.
	Overlay bool
	// Chown applies the tar's uid/gid to every entry (needs CAP_CHOWN).
	Chown bool
}

// DefaultApplyOptions turns on everything root can do, as Docker does.
func DefaultApplyOptions() ApplyOptions {
	root := os.Geteuid() == 0
	return ApplyOptions{Overlay: root, Chown: root}
}

// ApplyResult describes a registered layer.
type ApplyResult struct {
	DiffID  v1.Hash // sha256 of every byte read, trailing bytes included
	Size    int64   // DirSize of the extracted layer
	TarSize int64   // number of uncompressed bytes read
}

// Apply reads the uncompressed layer tar r once and, in that single pass,
// computes its DiffID, records it as gzipped tar-split JSON into tarSplit
// (nil: not recorded) and extracts it under dir, an existing directory.
// This is Docker's applyTar + overlay2 ApplyDiff (docker-formats.md §3.4).
//
// The stream is read to EOF even past the end-of-archive blocks, so trailing
// bytes are hashed and kept. On error, dir holds a partial layer that the
// caller discards.
func Apply(r io.Reader, dir string, tarSplit io.Writer, opts ApplyOptions) (ApplyResult, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ApplyResult{}, err
	}
	defer root.Close()

	hr := NewAsideHasher(r) // sha256 on its own goroutine, beside the writes
	defer hr.Close()
	var gz *gzip.Writer
	var rec *recorder
	if tarSplit != nil {
		gz = gzipWriters.get(tarSplit)
		rec = newRecorder(newNamelessPacker(gz))
	}
	// tar-split's reader takes headers 512 bytes at a time: serve them from
	// a buffer.
	br := headerReaders.get(hr)
	d := newDisassembler(br, rec)
	x, err := newExtractor(root, opts)
	if err == nil {
		defer x.chain.Close() // finish still walks it
		err = extractStream(x, d)
		x.putBuf()
	}
	d.putBufs()
	headerReaders.put(br)
	if gz != nil {
		cerr := rec.Close()
		if cerr == nil {
			cerr = gz.Close()
		}
		if err == nil && cerr != nil {
			err = fmt.Errorf("writing tar-split: %w", cerr)
		}
		gzipWriters.put(gz)
	}
	if err == nil {
		err = x.finish()
	}
	if err != nil {
		return ApplyResult{}, err
	}
	size, err := x.sizeAsWritten(dir)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("computing layer size: %w", err)
	}
	return ApplyResult{DiffID: hr.Sum(), Size: size, TarSize: hr.N()}, nil
}

// extractStream extracts and records every entry, then records whatever
// follows the end-of-archive marker so it is hashed and kept too.
func extractStream(x *extractor, d *disassembler) error {
	prev := ""
	for {
		hdr, err := d.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if prev == "" {
				return fmt.Errorf("reading layer tar: %w", err)
			}
			return fmt.Errorf("reading layer tar after entry %q: %w", prev, err)
		}
		if isSparse(hdr) {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, errSparse)
		}
		if err := x.entry(hdr, d); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := d.done(hdr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		prev = hdr.Name
	}
	if err := d.tail(); err != nil {
		return fmt.Errorf("reading layer tar after its end: %w", err)
	}
	return nil
}
