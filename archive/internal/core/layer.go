package core

import (
	"bufio"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/tarball"
)

// Media types not named by ggcr's types package.
const (
	MediaTypeOCILayer        types.MediaType = "application/vnd.oci.image.layer.v1.tar"
	mediaTypeDockerTar       types.MediaType = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeOCIIndex                        = types.OCIImageIndex
	MediaTypeOCIManifest                     = types.OCIManifestSchema1
	MediaTypeOCIConfig                       = types.OCIConfigJSON
	mediaTypeOCILayerGzip                    = types.OCILayer
	mediaTypeOCILayerZstd                    = types.OCILayerZStd
	AnnotationContainerdName                 = "io.containerd.image.name"
	AnnotationRefName                        = "org.opencontainers.image.ref.name"
)

// layer is a layer blob inside an indexed archive. It reads the blob
// through a section reader at its offset; nothing is extracted. It is
// hand-written rather than partial.CompressedToLayer because its diff ID
// comes from the config (never by decompressing the blob, which would read
// every layer twice) and its media type from sniffing the blob itself.
type layer struct {
	ix     *tarIndex
	ent    *tarEntry
	path   string // as named by the manifest, for errors
	diffID v1.Hash

	descDigest v1.Hash         // from a descriptor, zero if unknown
	descMT     types.MediaType // from a descriptor, "" if unknown

	sniffOnce sync.Once
	comp      tarball.Compression
	sniffErr  error

	digestOnce sync.Once
	digest     v1.Hash
	digestErr  error
}

var _ v1.Layer = (*layer)(nil)

func (l *layer) sniff() (tarball.Compression, error) {
	l.sniffOnce.Do(func() {
		br := bufio.NewReaderSize(l.ix.section(l.ent), 16)
		l.comp = tarball.Sniff(br)
	})
	return l.comp, l.sniffErr
}

// DiffID is the diff ID the image config declares for this layer. It is
// the expected value: the consumer verifies it while reading Uncompressed().
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Digest is the descriptor digest when the archive had an OCI manifest,
// otherwise the sha256 of the blob bytes, computed once on first use.
func (l *layer) Digest() (v1.Hash, error) {
	if l.descDigest != (v1.Hash{}) {
		return l.descDigest, nil
	}
	l.digestOnce.Do(func() {
		l.digest, l.digestErr = hashReader(l.ix.section(l.ent))
		if l.digestErr != nil {
			l.digestErr = fmt.Errorf("layer %s: hashing %q: %v", l.diffID, l.path, l.digestErr)
		}
	})
	return l.digest, l.digestErr
}

// Compressed returns the blob bytes as stored in the archive.
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(l.ix.section(l.ent)), nil
}

// Uncompressed returns the layer tar, decompressing the blob as sniffed
// (gzip, zstd, xz, bzip2, or none).
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	if c, err := l.sniff(); err == nil && c == tarball.None {
		// read straight from the archive: Decompress's 64 KiB buffer,
		// new for every layer, was most of what a load of many small
		// layers allocated
		return io.NopCloser(l.ix.section(l.ent)), nil
	}
	rc, _, err := tarball.Decompress(l.ix.section(l.ent))
	if err != nil {
		return nil, fmt.Errorf("layer %s (%q): %v", l.diffID, l.path, err)
	}
	return rc, nil
}

// Size is the size of the blob in the archive.
func (l *layer) Size() (int64, error) { return l.ent.size, nil }

// UncompressedSize reports the layer tar's size when the blob is stored
// uncompressed (then it is the blob size); false otherwise.
func (l *layer) UncompressedSize() (int64, bool) {
	c, err := l.sniff()
	if err != nil || c != tarball.None {
		return 0, false
	}
	return l.ent.size, true
}

// MediaType is the descriptor's media type, or one derived from the
// sniffed compression: Docker's rootfs.diff.tar / tar.gzip, OCI +zstd.
// xz and bzip2 blobs (Docker-only extensions) report the Docker tar type.
func (l *layer) MediaType() (types.MediaType, error) {
	if l.descMT != "" {
		return l.descMT, nil
	}
	c, err := l.sniff()
	if err != nil {
		return "", err
	}
	switch c {
	case tarball.Gzip:
		return types.DockerLayer, nil
	case tarball.Zstd:
		return mediaTypeOCILayerZstd, nil
	}
	return mediaTypeDockerTar, nil
}

// OCILayoutFile is the oci-layout file every layout holds.
const OCILayoutFile = `{"imageLayoutVersion": "1.0.0"}`

// SameMember reports whether two archive layers are served by the same
// tar member (a legacy save's layer.tar symlinks resolve to one member).
func SameMember(a, b v1.Layer) bool {
	la, ok1 := a.(*layer)
	lb, ok2 := b.(*layer)
	return ok1 && ok2 && la.ent == lb.ent
}
