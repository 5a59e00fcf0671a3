package core

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/tarball"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

func (p *plan) cleanup() {
	if p.tmpDir != "" {
		os.RemoveAll(p.tmpDir)
	}
}

func diffMismatch(d, got v1.Hash) error {
	return fmt.Errorf("layer %s: content does not match its diff_id (got %s)", d, got)
}

// prepare decides, for every layer, how its blob is produced, and makes
// the blobs that cannot be streamed (unknown size, or compression) into
// temp files, in parallel. dir is where temp files go ("" = a new temp dir).
func (p *plan) prepare(dir string) error {
	compress := p.opts.Compression != tarball.None && p.opts.oci() && !p.opts.Keep
	var todo []*wLayer
	for _, l := range p.layers {
		if p.opts.oci() {
			c, opaque := layerCompression(l.src)
			if opaque || c != tarball.None && (p.opts.Keep || c == p.opts.Compression) {
				var err error
				if l.size, err = l.src.Size(); err != nil {
					return fmt.Errorf("layer %s: %v", l.diffID, err)
				}
				if l.digest, err = l.src.Digest(); err != nil {
					return fmt.Errorf("layer %s: %v", l.diffID, err)
				}
				mt, _ := l.src.MediaType()
				l.copy, l.mt = true, ociLayerMT(mt)
				continue
			}
		}
		if !compress {
			if us, ok := l.src.(uncompressedSizer); ok {
				if n, ok := us.UncompressedSize(); ok {
					l.stream, l.size, l.digest, l.mt = true, n, l.diffID, mediaTypeOCILayer
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
		p.tmpDir = d
		dir = d
	}
	sem := make(chan struct{}, p.opts.jobs())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, l := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func(l *wLayer) {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			if compress {
				err = p.compressLayer(l, dir)
			} else {
				err = spoolLayer(l, dir)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(l)
	}
	wg.Wait()
	return firstErr
}

// openSpool makes the layer's temp file (removed with the plan's dir) and
// opens its uncompressed stream.
func (l *wLayer) openSpool(dir string) (*os.File, io.ReadCloser, error) {
	f, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		return nil, nil, err
	}
	l.tmp = f.Name()
	rc, err := l.src.Uncompressed()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	return f, rc, nil
}

// spoolLayer copies an uncompressed layer of unknown size to a temp file,
// checking its diff ID.
func spoolLayer(l *wLayer, dir string) error {
	f, rc, err := l.openSpool(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if got := sha256Hash(h); got != l.diffID {
		return diffMismatch(l.diffID, got)
	}
	l.size, l.digest, l.mt = n, l.diffID, mediaTypeOCILayer
	return f.Close()
}

// compressLayer makes the compressed blob in one pass: uncompressed →
// sha256 (diff ID check) → gzip/zstd → sha256 + count → temp file.
func (p *plan) compressLayer(l *wLayer, dir string) error {
	f, rc, err := l.openSpool(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rc.Close()
	ch := sha256.New()
	cw := &tarball.CountingWriter{W: io.MultiWriter(f, ch)}
	var zw io.WriteCloser
	switch p.opts.Compression {
	case tarball.Gzip:
		lvl := p.opts.Level
		if lvl == 0 {
			lvl = pgzip.DefaultCompression
		}
		g, err := pgzip.NewWriterLevel(cw, lvl)
		if err != nil {
			return fmt.Errorf("gzip level %d: %v", p.opts.Level, err)
		}
		if err := g.SetConcurrency(pgzipBlock, max(1, runtime.GOMAXPROCS(0))); err != nil {
			return err
		}
		zw, l.mt = g, mediaTypeOCILayerGzip
	case tarball.Zstd:
		zopts := []zstd.EOption{zstd.WithEncoderConcurrency(1)}
		if p.opts.Level != 0 {
			zopts = append(zopts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.opts.Level)))
		}
		z, err := zstd.NewWriter(cw, zopts...)
		if err != nil {
			return err
		}
		zw, l.mt = z, mediaTypeOCILayerZstd
	}
	uh := sha256.New()
	if _, err := io.Copy(io.MultiWriter(zw, uh), rc); err != nil {
		zw.Close()
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("layer %s: compressing: %v", l.diffID, err)
	}
	if got := sha256Hash(uh); got != l.diffID {
		return diffMismatch(l.diffID, got)
	}
	l.size, l.digest = cw.N, sha256Hash(ch)
	return f.Close()
}

// open returns the blob bytes of a prepared layer; for a streamed layer
// the returned check must be called after the bytes were consumed.
func (l *wLayer) open() (io.ReadCloser, func() error, error) {
	if l.copy {
		rc, err := l.src.Compressed()
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %v", l.diffID, err)
		}
		h := newHasher(l.digest.Algorithm)
		cr := &checkReader{r: io.TeeReader(rc, h)}
		check := func() error {
			if cr.n != l.size {
				return fmt.Errorf("layer blob %s: size %d does not match its descriptor (%d)", l.digest, cr.n, l.size)
			}
			if got := digestOf2(l.digest.Algorithm, h); got != l.digest {
				return fmt.Errorf("layer blob %s: content does not match its digest (got %s)", l.digest, got)
			}
			return nil
		}
		return struct {
			io.Reader
			io.Closer
		}{cr, rc}, check, nil
	}
	if !l.stream {
		f, err := os.Open(l.tmp)
		if err != nil {
			return nil, nil, err
		}
		return f, func() error { return nil }, nil
	}
	rc, err := l.src.Uncompressed()
	if err != nil {
		return nil, nil, fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	h := sha256.New()
	cr := &checkReader{r: io.TeeReader(rc, h)}
	check := func() error {
		if cr.n != l.size {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got %d", l.diffID, l.size, cr.n)
		}
		if got := sha256Hash(h); got != l.diffID {
			return diffMismatch(l.diffID, got)
		}
		return nil
	}
	return struct {
		io.Reader
		io.Closer
	}{cr, rc}, check, nil
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
