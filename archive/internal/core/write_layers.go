package core

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/tarball"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
)

func (p *Plan) Cleanup() {
	if p.TmpDir != "" {
		os.RemoveAll(p.TmpDir)
	}
}

func diffMismatch(d, got v1.Hash) error {
	return fmt.Errorf("layer %s: content does not match its diff_id (got %s)", d, got)
}

// prepare decides, for every layer, how its blob is produced, and makes
// the blobs that cannot be streamed (unknown size, or compression) into
// temp files, in parallel. dir is where temp files go ("" = a new temp dir).
func (p *Plan) Prepare(dir string) error {
	compress := p.Opts.Compression != tarball.None && p.Opts.oci() && !p.Opts.Keep
	var todo []*PlanLayer
	for _, l := range p.Layers {
		if p.copyAsStored(l) {
			var err error
			if l.Size, err = l.Src.Size(); err != nil {
				return fmt.Errorf("layer %s: %v", l.DiffID, err)
			}
			if l.Digest, err = l.Src.Digest(); err != nil {
				return fmt.Errorf("layer %s: %v", l.DiffID, err)
			}
			mt, _ := l.Src.MediaType()
			l.Copy, l.MT = true, mt
			if p.Opts.oci() {
				l.MT = ociLayerMT(mt)
			}
			continue
		}
		if !compress {
			if us, ok := l.Src.(uncompressedSizer); ok {
				if n, ok := us.UncompressedSize(); ok {
					l.Stream, l.Size, l.Digest, l.MT = true, n, l.DiffID, MediaTypeOCILayer
					continue
				}
			}
		}
		todo = append(todo, l)
	}
	if len(todo) == 0 {
		return nil
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "imgtool-write-")
		if err != nil {
			return err
		}
		p.TmpDir = d
		dir = d
	}
	var g errgroup.Group
	g.SetLimit(p.Opts.jobs())
	for _, l := range todo {
		g.Go(func() error {
			if compress {
				return p.compressLayer(l, dir)
			}
			return spoolLayer(l, dir)
		})
	}
	return g.Wait()
}

// copyAsStored reports whether a layer's blob is copied as its source
// stores it: in the OCI forms when it is compressed as asked (or Keep, or
// not a layer tar); in Docker 25+'s form when its image is stored-form
// (Docker 29's save writes the content store's blobs).
func (p *Plan) copyAsStored(l *PlanLayer) bool {
	if p.Opts.Format == Docker {
		return l.Stored
	}
	if !p.Opts.oci() {
		return false
	}
	c, opaque := layerCompression(l.Src)
	return opaque || c != tarball.None && (p.Opts.Keep || c == p.Opts.Compression)
}

// openSpool makes the layer's temp file (removed with the Plan's dir) and
// opens its uncompressed stream.
func (l *PlanLayer) openSpool(dir string) (*os.File, io.ReadCloser, error) {
	f, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		return nil, nil, err
	}
	l.Tmp = f.Name()
	rc, err := l.Src.Uncompressed()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("layer %s: %v", l.DiffID, err)
	}
	return f, rc, nil
}

// spoolLayer copies an uncompressed layer of unknown size to a temp file,
// checking its diff ID.
func spoolLayer(l *PlanLayer, dir string) error {
	f, rc, err := l.openSpool(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		return fmt.Errorf("layer %s: %v", l.DiffID, err)
	}
	if got := sum("sha256", h); got != l.DiffID {
		return diffMismatch(l.DiffID, got)
	}
	l.Size, l.Digest, l.MT = n, l.DiffID, MediaTypeOCILayer
	return f.Close()
}

// compressLayer makes the compressed blob in one pass: uncompressed →
// sha256 (diff ID check) → gzip/zstd → sha256 + count → temp file.
func (p *Plan) compressLayer(l *PlanLayer, dir string) error {
	f, rc, err := l.openSpool(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rc.Close()
	ch := sha256.New()
	cw := &tarball.CountingWriter{W: io.MultiWriter(f, ch)}
	var zw io.WriteCloser
	switch p.Opts.Compression {
	case tarball.Gzip:
		g, err := tarball.NewGzipWriter(cw, p.Opts.Level)
		if err != nil {
			return err
		}
		zw, l.MT = g, mediaTypeOCILayerGzip
	case tarball.Zstd:
		zopts := []zstd.EOption{zstd.WithEncoderConcurrency(1)}
		if p.Opts.Level != 0 {
			zopts = append(zopts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.Opts.Level)))
		}
		z, err := zstd.NewWriter(cw, zopts...)
		if err != nil {
			return err
		}
		zw, l.MT = z, mediaTypeOCILayerZstd
	}
	uh := sha256.New()
	if _, err := io.Copy(io.MultiWriter(zw, uh), rc); err != nil {
		zw.Close()
		return fmt.Errorf("layer %s: %v", l.DiffID, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("layer %s: compressing: %v", l.DiffID, err)
	}
	if got := sum("sha256", uh); got != l.DiffID {
		return diffMismatch(l.DiffID, got)
	}
	l.Size, l.Digest = cw.N, sum("sha256", ch)
	return f.Close()
}

// Open returns the blob bytes of a prepared layer; for a streamed layer
// the returned check must be called after the bytes were consumed.
func (l *PlanLayer) Open() (io.ReadCloser, func() error, error) {
	if l.Copy {
		rc, err := l.Src.Compressed()
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %v", l.DiffID, err)
		}
		h := newHasher(l.Digest.Algorithm)
		cr := &checkReader{r: io.TeeReader(rc, h)}
		check := func() error {
			if cr.n != l.Size {
				return fmt.Errorf("layer blob %s: size %d does not match its descriptor (%d)", l.Digest, cr.n, l.Size)
			}
			if got := sum(l.Digest.Algorithm, h); got != l.Digest {
				return fmt.Errorf("layer blob %s: content does not match its digest (got %s)", l.Digest, got)
			}
			return nil
		}
		return struct {
			io.Reader
			io.Closer
		}{cr, rc}, check, nil
	}
	if !l.Stream {
		f, err := os.Open(l.Tmp)
		if err != nil {
			return nil, nil, err
		}
		return f, func() error { return nil }, nil
	}
	rc, err := l.Src.Uncompressed()
	if err != nil {
		return nil, nil, fmt.Errorf("layer %s: %v", l.DiffID, err)
	}
	// sha256 runs on its own goroutine beside the assembly and the write
	// (a streamed store layer is read from its files through tar-split), so
	// on two cores the check costs no wall time. Memory: a few 256 KiB chunks.
	a := tarball.NewAsideHasher(rc)
	cr := &checkReader{r: a}
	check := func() error {
		if cr.n != l.Size {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got %d", l.DiffID, l.Size, cr.n)
		}
		if _, err := io.Copy(io.Discard, a); err != nil { // to EOF, where Sum is final
			return fmt.Errorf("layer %s: %v", l.DiffID, err)
		}
		if got := a.Sum(); got != l.DiffID {
			return diffMismatch(l.DiffID, got)
		}
		return nil
	}
	return struct {
		io.Reader
		io.Closer
	}{cr, asideCloser{a, rc}}, check, nil
}

// asideCloser stops the hasher's reads of rc before closing rc.
type asideCloser struct {
	a  *tarball.AsideHasher
	rc io.Closer
}

func (c asideCloser) Close() error {
	c.a.Close()
	return c.rc.Close()
}

type checkReader struct {
	r io.Reader
	n int64
}

func (c *checkReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
