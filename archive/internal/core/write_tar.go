package core

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/imgtool/imgtool/item"
)

type tarOut struct {
	tw    *tar.Writer
	epoch time.Time
}

func (t *tarOut) dir(name string) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: t.epoch})
}

func (t *tarOut) file(name string, b []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: t.epoch}); err != nil {
		return err
	}
	_, err := t.tw.Write(b)
	return err
}

func (t *tarOut) symlink(name, target string) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: t.epoch})
}

func (t *tarOut) layer(name string, l *wLayer) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: l.size, ModTime: t.epoch}); err != nil {
		return err
	}
	rc, check, err := l.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(t.tw, io.LimitReader(rc, l.size))
	if err != nil {
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if l.stream || l.copy {
		// detect a source longer than announced
		var one [1]byte
		if m, _ := io.ReadFull(rc, one[:]); m > 0 {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got more", l.diffID, l.size)
		}
		if n != l.size {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got %d", l.diffID, l.size, n)
		}
	}
	return check()
}

// Write writes imgs to w as one archive in opts.Format (Docker, DockerLegacy
// or OCIArchive). The output is deterministic: entries sorted, modes
// 0644/0755, owner 0:0 with no names, mtime opts.Epoch. Layers whose diff ID
// repeats are written once. A layer whose content does not match its
// diff_id fails the write after its bytes were written; the caller removes
// the partial output.
//
// Each item is an image, or (Index set) a whole index. The OCI forms write
// an index whole, keeping its bytes when every child manifest is written
// unchanged. The Docker forms cannot hold an index: each runnable platform
// image is written as its own image, and the tags go to the host
// platform's image (else the first). RefNames are extra bare
// org.opencontainers.image.ref.name values (OCI forms); Parent is written
// to manifest.json when that image is in the archive too (Docker forms).
func Write(w io.Writer, imgs []item.Item, opts Options) error {
	if opts.Format == OCILayout {
		return errors.New("the OCI layout format is a directory: use WriteLayout")
	}
	p, err := newPlan(imgs, opts)
	if err != nil {
		return err
	}
	defer p.cleanup()
	if err := p.prepare(""); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20) // headers and small blobs: not one write(2) each
	t := &tarOut{tw: tar.NewWriter(bw), epoch: opts.epoch()}
	switch opts.Format {
	case Docker, OCIArchive:
		err = writeOCITar(t, p, opts.Format == Docker)
	case DockerLegacy:
		err = writeLegacy(t, p)
	default:
		err = fmt.Errorf("unknown format %v", opts.Format)
	}
	if err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
