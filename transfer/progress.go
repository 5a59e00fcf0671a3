package transfer

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/progress"
)

// WithProgress wraps an image so that reading a layer's uncompressed
// stream reports to rep; nothing else changes.
func WithProgress(img v1.Image, rep progress.Reporter) v1.Image {
	if rep == nil {
		return img
	}
	return progressImage{Image: img, rep: rep}
}

type progressImage struct {
	v1.Image
	rep progress.Reporter
}

func (p progressImage) Layers() ([]v1.Layer, error) {
	ls, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = progressLayer{Layer: l, rep: p.rep}
	}
	return out, nil
}

type progressLayer struct {
	v1.Layer
	rep progress.Reporter
}

func (l progressLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	var total int64
	if s, ok := l.Layer.(interface{ UncompressedSize() (int64, bool) }); ok {
		total, _ = s.UncompressedSize()
	}
	name := "layer"
	if d, err := l.Layer.DiffID(); err == nil && len(d.Hex) >= 12 {
		name = d.Hex[:12]
	}
	task := l.rep.Task(name, total)
	return struct {
		io.Reader
		io.Closer
	}{progress.Reader(rc, task), rc}, nil
}

// UncompressedSize passes the wrapped layer's through for writers.
func (l progressLayer) UncompressedSize() (int64, bool) {
	if s, ok := l.Layer.(interface{ UncompressedSize() (int64, bool) }); ok {
		return s.UncompressedSize()
	}
	return 0, false
}
