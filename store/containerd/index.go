package containerd

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storedIndex is an index an image record targets (a pull of a
// multi-platform image), as stored: Docker 29's docker save writes it
// whole, with the children the content store holds (a single-platform
// pull holds one), so that the index digest, the image ID, survives.
type storedIndex struct {
	s    *Store
	desc descriptor
	raw  []byte
	im   *v1.IndexManifest
}

var _ v1.ImageIndex = (*storedIndex)(nil)

func (s *Store) openIndex(d descriptor) (*storedIndex, error) {
	raw, err := s.readBlob(d.Digest)
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	return &storedIndex{s: s, desc: d, raw: raw, im: im}, nil
}

// IDIsTarget: the writers keep the index and its children as stored.
func (x *storedIndex) IDIsTarget() bool { return true }

func (x *storedIndex) MediaType() (types.MediaType, error) {
	return types.MediaType(x.desc.MediaType), nil
}
func (x *storedIndex) Digest() (v1.Hash, error)     { return v1.NewHash(x.desc.Digest) }
func (x *storedIndex) Size() (int64, error)         { return int64(len(x.raw)), nil }
func (x *storedIndex) RawManifest() ([]byte, error) { return x.raw, nil }
func (x *storedIndex) IndexManifest() (*v1.IndexManifest, error) {
	return x.im, nil
}

// Present reports whether child h can be written: its manifest is in the
// content store and it is a runnable image or an index. Others are left
// out and the index kept as it is, as containerd's exporter skips missing
// content; attestation manifests (not images) are left out too.
func (x *storedIndex) Present(h v1.Hash) bool {
	d, ok := x.child(h)
	if !ok {
		return false
	}
	if isIndex(string(d.MediaType)) {
		p, _ := x.s.blobPath(h.String())
		return exists(p)
	}
	_, err := x.s.resolve(descriptor{Digest: h.String(), MediaType: string(d.MediaType), Size: d.Size})
	return err == nil
}

func (x *storedIndex) child(h v1.Hash) (v1.Descriptor, bool) {
	for _, d := range x.im.Manifests {
		if d.Digest == h {
			return d, true
		}
	}
	return v1.Descriptor{}, false
}

func (x *storedIndex) Image(h v1.Hash) (v1.Image, error) {
	d, ok := x.child(h)
	if !ok {
		return nil, fmt.Errorf("index %s has no manifest %s", x.desc.Digest, h)
	}
	r, err := x.s.resolve(descriptor{Digest: h.String(), MediaType: string(d.MediaType), Size: d.Size})
	if err != nil {
		return nil, err
	}
	return x.s.newImage(r)
}

func (x *storedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, ok := x.child(h)
	if !ok || !isIndex(string(d.MediaType)) {
		return nil, fmt.Errorf("index %s has no index %s", x.desc.Digest, h)
	}
	return x.s.openIndex(descriptor{Digest: h.String(), MediaType: string(d.MediaType), Size: d.Size})
}

// StoredIndex is the index the image's record targets, to be saved whole
// (nil when the target is a manifest).
func (img *image) StoredIndex() v1.ImageIndex {
	if !isIndex(img.r.target.MediaType) {
		return nil
	}
	x, err := img.s.openIndex(img.r.target)
	if err != nil {
		return nil
	}
	return x
}
