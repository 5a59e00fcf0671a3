package registry

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imgtool/imgtool/progress"
)

// Push progress: one task per layer upload (its compressed bytes), and one
// per layer compression ("<id> gzip": the uncompressed bytes read), in the
// units and modes of every other command (Options.Progress).

// uploadProgress counts blob's compressed stream as ggcr uploads it. A
// MountableLayer stays itself: ggcr must see it to try a mount first.
func uploadProgress(blob v1.Layer, rep progress.Reporter, name string) v1.Layer {
	if rep == nil {
		return blob
	}
	if _, ok := blob.(*remote.MountableLayer); ok {
		return blob
	}
	return &progressLayer{Layer: blob, rep: rep, name: name}
}

// compressProgress counts src's uncompressed stream as it is compressed.
func compressProgress(src v1.Layer, rep progress.Reporter, name string) v1.Layer {
	if rep == nil {
		return src
	}
	return &progressLayer{Layer: src, rep: rep, name: name + " gzip", uncompressed: true}
}

type progressLayer struct {
	v1.Layer
	rep          progress.Reporter
	name         string
	uncompressed bool // count Uncompressed reads, else Compressed ones
}

func (l *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil || l.uncompressed {
		return rc, err
	}
	size, _ := l.Layer.Size()
	return progress.ReadCloser(rc, l.rep.Task(l.name, size)), nil
}

func (l *progressLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Uncompressed()
	if err != nil || !l.uncompressed {
		return rc, err
	}
	var total int64
	if s, ok := l.Layer.(interface{ UncompressedSize() (int64, bool) }); ok {
		total, _ = s.UncompressedSize()
	}
	return progress.ReadCloser(rc, l.rep.Task(l.name, total)), nil
}

// UncompressedSize passes the wrapped layer's through.
func (l *progressLayer) UncompressedSize() (int64, bool) {
	if s, ok := l.Layer.(interface{ UncompressedSize() (int64, bool) }); ok {
		return s.UncompressedSize()
	}
	return 0, false
}
