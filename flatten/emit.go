package flatten

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/imgtool/imgtool/overlay"
)

// Pass 2: the merged tree is written in output order, content read from the
// layers (see the package comment).

type layerReader struct {
	rc  io.ReadCloser
	tr  *tar.Reader
	ord int // ordinal of the last header read
}

type emitter struct {
	layers   []Layer
	opts     Options
	needed   []map[int]*source // per layer: ordinal → content still to write
	readers  []*layerReader
	contents []*dirContent // per dirLayer, opened by the content pass
	spillDir string
	nspill   int
}

// plan walks the tree in output order, assigning each inode its primary
// (first) path and recording which layer entries supply content.
func (e *emitter) plan(n *node, p string) {
	for _, c := range sortedChildren(n) {
		cp := join(p, c.name)
		if c.isDir() {
			e.plan(c, cp)
			continue
		}
		if !c.ino.planned {
			c.ino.planned = true
			if c.ino.linked {
				c.ino.primary = cp
			}
			// A dir layer serves content by name; only tar layers are
			// read in entry order and need the index.
			if s := c.ino.src; s != nil && s.size > 0 && !e.isDirLayer(s.layer) {
				if e.needed[s.layer] == nil {
					e.needed[s.layer] = map[int]*source{}
				}
				e.needed[s.layer][s.ord] = s
			}
		}
	}
}

func (e *emitter) isDirLayer(i int) bool {
	_, ok := e.layers[i].(dirLayer)
	return ok
}

func header(name string, m meta) *tar.Header {
	h := &tar.Header{
		Name: name, Mode: m.mode, Uid: m.uid, Gid: m.gid, Uname: m.uname, Gname: m.gname,
		ModTime: time.Unix(m.mtime, 0), Format: tar.FormatPAX,
	}
	if m.capability != "" {
		h.PAXRecords = map[string]string{xattrPrefix + capXattr: m.capability}
	}
	return h
}

func (e *emitter) emit(tw *tar.Writer, n *node, p string) error {
	for _, c := range sortedChildren(n) {
		cp := join(p, c.name)
		if c.isDir() {
			h := header(cp+"/", *c.dir)
			h.Typeflag = tar.TypeDir
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("%q: %w", cp, err)
			}
			if err := e.emit(tw, c, cp); err != nil {
				return err
			}
			continue
		}
		ino := c.ino
		h := fileHeader(cp, ino)
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%q: %w", cp, err)
		}
		if h.Typeflag == tar.TypeLink {
			continue
		}
		if ino.src != nil {
			if err := e.copyContent(tw, ino.src); err != nil {
				return fmt.Errorf("%q: content from layer %d entry %q: %w", cp, ino.src.layer, ino.src.name, err)
			}
		}
	}
	return nil
}

// fileHeader is the output header of the non-directory ino at cp: a hard
// link to its primary path unless cp is that path.
func fileHeader(cp string, ino *inode) *tar.Header {
	h := header(cp, ino.meta)
	if ino.linked && ino.primary != cp {
		h.Typeflag, h.Linkname = tar.TypeLink, ino.primary
		return h
	}
	h.Typeflag = ino.typ
	switch ino.typ {
	case tar.TypeSymlink:
		h.Linkname = ino.linkname
	case tar.TypeChar, tar.TypeBlock:
		h.Devmajor, h.Devminor = ino.major, ino.minor
	case tar.TypeReg:
		h.Size = ino.size
	}
	return h
}

var errChanged = errors.New("layer changed between passes")

func (e *emitter) copyContent(w io.Writer, s *source) error {
	s.done = true
	if s.size == 0 && s.spill == "" {
		return nil
	}
	if dl, ok := e.layers[s.layer].(dirLayer); ok {
		rc, size, err := e.content(s.layer, dl, s.name)
		if err != nil {
			return err
		}
		defer rc.Close()
		if size != s.size {
			return errChanged
		}
		return copyExact(w, rc, s.size)
	}
	if s.spill != "" {
		f, err := os.Open(s.spill)
		if err != nil {
			return err
		}
		err = copyExact(w, f, s.size)
		f.Close()
		os.Remove(s.spill)
		return err
	}
	lr, err := e.reader(s.layer)
	if err != nil {
		return err
	}
	if s.ord <= lr.ord {
		return fmt.Errorf("internal error: entry %d already passed", s.ord)
	}
	for {
		hdr, err := lr.tr.Next()
		if err == io.EOF {
			return errChanged
		}
		if err != nil {
			return err
		}
		lr.ord++
		if lr.ord == s.ord {
			if overlay.Clean(hdr.Name) != s.name || hdr.Size != s.size {
				return errChanged
			}
			return copyExact(w, lr.tr, s.size)
		}
		if o := e.needed[s.layer][lr.ord]; o != nil && !o.done && o.spill == "" {
			if overlay.Clean(hdr.Name) != o.name || hdr.Size != o.size {
				return errChanged
			}
			if err := e.spill(o, lr.tr); err != nil {
				return err
			}
		}
	}
}

// content opens s's file in the dirLayer dl, layer i.
func (e *emitter) content(i int, dl dirLayer, name string) (io.ReadCloser, int64, error) {
	if e.contents[i] == nil {
		d, err := openDirContent(dl.root)
		if err != nil {
			return nil, 0, err
		}
		e.contents[i] = d
	}
	return e.contents[i].open(name)
}

func (e *emitter) reader(i int) (*layerReader, error) {
	if lr := e.readers[i]; lr != nil {
		return lr, nil
	}
	rc, err := e.layers[i].Open()
	if err != nil {
		return nil, err
	}
	lr := &layerReader{rc: rc, tr: tar.NewReader(rc), ord: -1}
	e.readers[i] = lr
	return lr, nil
}

func (e *emitter) spill(s *source, r io.Reader) error {
	if e.spillDir == "" {
		d, err := os.MkdirTemp(e.opts.TempDir, "imgtool-flatten-")
		if err != nil {
			return err
		}
		e.spillDir = d
	}
	e.nspill++
	p := filepath.Join(e.spillDir, strconv.Itoa(e.nspill))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		return err
	}
	if err := copyExact(f, r, s.size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	s.spill = p
	return nil
}

func (e *emitter) cleanup() {
	for _, d := range e.contents {
		if d != nil {
			d.close()
		}
	}
	for _, lr := range e.readers {
		if lr != nil {
			lr.rc.Close()
		}
	}
	if e.spillDir != "" {
		os.RemoveAll(e.spillDir)
	}
}

func copyExact(w io.Writer, r io.Reader, n int64) error {
	m, err := io.CopyN(w, r, n)
	if err == io.EOF && m < n {
		return errChanged
	}
	return err
}
