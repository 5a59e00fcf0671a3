package core

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/imgtool/imgtool/item"
)

type TarOut struct {
	tw    *tar.Writer
	epoch time.Time
}

func (t *TarOut) Dir(name string) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: t.epoch})
}

func (t *TarOut) File(name string, b []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: t.epoch}); err != nil {
		return err
	}
	_, err := t.tw.Write(b)
	return err
}

func (t *TarOut) Symlink(name, target string) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: t.epoch})
}

func (t *TarOut) Layer(name string, l *PlanLayer) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: l.Size, ModTime: t.epoch}); err != nil {
		return err
	}
	rc, check, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(t.tw, io.LimitReader(rc, l.Size))
	if err != nil {
		return fmt.Errorf("layer %s: %v", l.DiffID, err)
	}
	if l.Stream || l.Copy {
		// detect a source longer than announced
		var one [1]byte
		if m, _ := io.ReadFull(rc, one[:]); m > 0 {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got more", l.DiffID, l.Size)
		}
		if n != l.Size {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got %d", l.DiffID, l.Size, n)
		}
	}
	return check()
}

// WriteTar plans imgs, prepares their layers and calls body to write them
// as one tar to w. The output is deterministic: entries sorted, modes
// 0644/0755, owner 0:0 with no names, mtime opts.Epoch. Layers whose diff
// ID repeats are written once. A layer whose content does not match its
// diff_id fails the write after its bytes were written; the caller removes
// the partial output.
func WriteTar(w io.Writer, imgs []item.Item, opts Options, body func(*TarOut, *Plan) error) error {
	p, err := NewPlan(imgs, opts)
	if err != nil {
		return err
	}
	defer p.Cleanup()
	if err := p.Prepare(""); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20) // headers and small blobs: not one write(2) each
	t := &TarOut{tw: tar.NewWriter(bw), epoch: opts.epoch()}
	if err := body(t, p); err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
