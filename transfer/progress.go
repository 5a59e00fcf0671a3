package transfer

import (
	"context"
	"io"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/progress"
)

// WithProgress wraps an image so that reading a layer's uncompressed
// stream reports to rep; nothing else changes.
func WithProgress(img v1.Image, rep progress.Reporter) v1.Image {
	return wrapImage(img, nil, rep)
}

// wrapImage makes every layer read stop with ctx's cause once ctx is done
// (an interrupt: the next read fails, the transaction or temp file is
// rolled back on the way out) and, with rep, report progress.
func wrapImage(img v1.Image, ctx context.Context, rep progress.Reporter) v1.Image {
	if rep == nil && ctx == nil {
		return img
	}
	return wrappedImage{Image: img, ctx: ctx, rep: rep}
}

type wrappedImage struct {
	v1.Image
	ctx context.Context
	rep progress.Reporter
}

// IDIsTarget passes on what the store says of the image's ID: the
// archive writers keep a containerd-store image's manifest and blobs.
func (p wrappedImage) IDIsTarget() bool { return idIsTarget(p.Image) }

func (p wrappedImage) Layers() ([]v1.Layer, error) {
	ls, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = wrappedLayer{Layer: l, ctx: p.ctx, rep: p.rep, reported: new(atomic.Bool)}
	}
	return out, nil
}

// wrappedLayer reports the first stream a sink opens, compressed (a blob
// copied as it is) or uncompressed, in bytes of that stream; later opens
// (a second pass, the other form) are not counted again.
type wrappedLayer struct {
	v1.Layer
	ctx      context.Context
	rep      progress.Reporter
	reported *atomic.Bool
}

func (l wrappedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	size, _ := l.Layer.Size()
	return l.wrap(rc, size), nil
}

func (l wrappedLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	var total int64
	if s, ok := l.Layer.(interface{ UncompressedSize() (int64, bool) }); ok {
		total, _ = s.UncompressedSize()
	}
	return l.wrap(rc, total), nil
}

func (l wrappedLayer) wrap(rc io.ReadCloser, total int64) io.ReadCloser {
	if l.ctx != nil {
		rc = readCloser{ctxReader{l.ctx, rc}, rc}
	}
	if l.rep != nil && l.reported != nil && l.reported.CompareAndSwap(false, true) {
		name := "layer"
		if d, err := l.Layer.DiffID(); err == nil && len(d.Hex) >= 12 {
			name = d.Hex[:12]
		}
		rc = progress.ReadCloser(rc, l.rep.Task(name, total))
	}
	return rc
}

// UncompressedSize passes the wrapped layer's through for writers.
func (l wrappedLayer) UncompressedSize() (int64, bool) {
	if s, ok := l.Layer.(interface{ UncompressedSize() (int64, bool) }); ok {
		return s.UncompressedSize()
	}
	return 0, false
}

type readCloser struct {
	io.Reader
	io.Closer
}

// ctxReader fails every read once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

// ctxWriter fails every write once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.w.Write(p)
}
