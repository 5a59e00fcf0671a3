package transfer

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/tarball"
)

// fileLayer is a layer tar file (plain, gzip, zstd, …) used as it is: its
// digest is the file's, its diff ID that of the tar inside. ggcr's
// tarball.LayerFromFile would gzip a plain tar once just to learn a digest
// and again to write it; here one read hashes both, checks that the file
// is a tar, and a plain tar stays an uncompressed layer (a push gzips it
// once, with pgzip, as any store layer).
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
	mediaType      types.MediaType
}

// newFileLayer reads path once. base is the manifest media type of the
// image it is added to: a Docker manifest gets Docker layer types, an OCI
// one OCI types.
func newFileLayer(path string, base types.MediaType) (*fileLayer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file, tarHash := sha256.New(), sha256.New()
	counted := &tarball.CountingWriter{W: file}
	raw := io.TeeReader(f, counted)
	rc, comp, err := tarball.Decompress(raw)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if err := readTar(io.TeeReader(rc, tarHash)); err != nil {
		return nil, fmt.Errorf("not a layer tar (%s): %v", comp, err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil { // the rest of the file, for its digest
		return nil, err
	}
	l := &fileLayer{path: path, diffID: sum(tarHash), digest: sum(file), size: counted.N}
	if l.mediaType, err = layerMediaType(comp, base == types.OCIManifestSchema1); err != nil {
		return nil, err
	}
	if comp == tarball.None {
		l.digest = l.diffID
	}
	return l, nil
}

// readTar walks a tar stream to its end (padding included).
func readTar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, err = io.Copy(io.Discard, r)
			return err
		}
		if err != nil {
			return err
		}
	}
}

func layerMediaType(c tarball.Compression, oci bool) (types.MediaType, error) {
	switch {
	case c == tarball.None && oci:
		return types.OCIUncompressedLayer, nil
	case c == tarball.None:
		return types.DockerUncompressedLayer, nil
	case c == tarball.Gzip && oci:
		return types.OCILayer, nil
	case c == tarball.Gzip:
		return types.DockerLayer, nil
	case c == tarball.Zstd:
		return types.OCILayerZStd, nil
	}
	return "", fmt.Errorf("%s layers are not a registry layer type: decompress it first, or gzip it", c)
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	rc, _, err := tarball.Decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{rc, closers{rc, f}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
