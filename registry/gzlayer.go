package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/tarball"
)

// GzipLayer is an uncompressed layer compressed once into a temp file.
// CompressLayer reads the source's uncompressed stream a single time and,
// in that pass, hashes it (checked against the diff ID), gzips it with
// pgzip, and hashes and counts the compressed bytes as they are written to
// the file. Digest, Size and Compressed then serve the file: the upload
// knows its digest before it starts (so it can be skipped or retried) and
// nothing is gzipped twice. Remove deletes the file.
type GzipLayer struct {
	src    v1.Layer
	diffID v1.Hash
	path   string
	digest v1.Hash
	size   int64
	usize  int64
	mt     types.MediaType
}

var _ v1.Layer = (*GzipLayer)(nil)

// CompressLayer compresses src (whose Uncompressed stream must hash to its
// DiffID) into a new file in dir. level 0 is pgzip's default.
func CompressLayer(src v1.Layer, dir string, level int) (*GzipLayer, error) {
	diffID, err := src.DiffID()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "layer-*.gz")
	if err != nil {
		return nil, err
	}
	l := &GzipLayer{src: src, diffID: diffID, path: f.Name(), mt: types.DockerLayer}
	fail := func(err error) (*GzipLayer, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	rc, err := src.Uncompressed()
	if err != nil {
		return fail(fmt.Errorf("layer %s: %w", diffID, err))
	}
	defer rc.Close()
	ch := sha256.New()
	cw := &tarball.CountingWriter{W: io.MultiWriter(f, ch)}
	zw, err := tarball.NewGzipWriter(cw, level)
	if err != nil {
		return fail(err)
	}
	uh := sha256.New()
	n, err := io.Copy(io.MultiWriter(zw, uh), rc)
	if err != nil {
		zw.Close()
		return fail(fmt.Errorf("layer %s: %w", diffID, err))
	}
	if err := zw.Close(); err != nil {
		return fail(fmt.Errorf("layer %s: compressing: %w", diffID, err))
	}
	if got := sum(uh); got != diffID {
		return fail(fmt.Errorf("layer %s: content does not match its diff_id (got %s)", diffID, got))
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	l.digest, l.size, l.usize = sum(ch), cw.N, n
	return l, nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

func (l *GzipLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *GzipLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *GzipLayer) Size() (int64, error)                { return l.size, nil }
func (l *GzipLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// UncompressedSize is the size of the layer tar.
func (l *GzipLayer) UncompressedSize() (int64, bool) { return l.usize, true }

// Compressed opens the compressed file (again for every call, so uploads
// can be retried).
func (l *GzipLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.path) }

// Uncompressed is the source's stream.
func (l *GzipLayer) Uncompressed() (io.ReadCloser, error) { return l.src.Uncompressed() }

// Remove deletes the compressed file.
func (l *GzipLayer) Remove() error { return os.Remove(l.path) }
