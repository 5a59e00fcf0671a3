package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/platform"
)

// Described is the top-level manifest of one location, as crane digest,
// crane manifest and crane config see it: an image's manifest, or a
// multi-platform index.
type Described struct {
	Item      Item
	Digest    v1.Hash // of Manifest
	MediaType types.MediaType
	Manifest  []byte // the raw manifest or index
}

// Describe opens ref and describes the one image or index it names. The
// registry, an OCI layout and a Docker ≥25 save give their own manifest
// bytes; the store (and older docker saves) the OCI manifest imgtool save
// and Docker 25+'s docker save write for the image (uncompressed layers).
// close releases the source.
func Describe(ctx context.Context, ref Ref, env *Env) (d *Described, close func() error, err error) {
	source, items, err := OpenNamed(ctx, ref, env)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			source.Close()
		}
	}()
	if len(items) != 1 {
		return nil, nil, fmt.Errorf("%s holds %d images (%s): name one with LOCATION:REF", ref, len(items), listItems(items))
	}
	it := items[0]
	d = &Described{Item: it}
	index := it.Index
	if index == nil {
		index = storedIndex(it.Image) // a containerd-store image targeting an index
	}
	switch {
	case index != nil:
		if d.Manifest, err = index.RawManifest(); err == nil {
			d.MediaType, err = index.MediaType()
		}
	case it.Digest == (v1.Hash{}) && !idIsTarget(it.Image):
		// no manifest of its own (the overlay2 store, docker save before 25)
		d.Manifest, err = savedManifest(it.Image)
		d.MediaType = types.OCIManifestSchema1
	default:
		if d.Manifest, err = it.Image.RawManifest(); err == nil {
			d.MediaType, err = it.Image.MediaType()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	d.Digest = it.Digest
	if d.Digest == (v1.Hash{}) {
		if d.Digest, _, err = v1.SHA256(bytes.NewReader(d.Manifest)); err != nil {
			return nil, nil, err
		}
	}
	return d, source.Close, nil
}

// idIsTarget: a containerd-store image, whose stored manifest is what
// imgtool save and Docker 29's docker save write (its digest is the ID).
func idIsTarget(img v1.Image) bool {
	t, ok := img.(interface{ IDIsTarget() bool })
	return ok && t.IDIsTarget()
}

// storedIndex is the index a containerd-store image's record targets
// (nil for any other image).
func storedIndex(img v1.Image) v1.ImageIndex {
	if x, ok := img.(interface{ StoredIndex() v1.ImageIndex }); ok {
		return x.StoredIndex()
	}
	return nil
}

// savedManifest is the manifest imgtool save (and Docker 25+'s docker
// save) writes for an image that has none of its own: OCI media types,
// each layer by its uncompressed digest, in image-spec's field order
// (digest before size), marshaled through image-spec's types as the
// archive writer does so the digest is the one in the saved index.json.
func savedManifest(img v1.Image) ([]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	desc := func(mt types.MediaType, d v1.Descriptor) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(d.Digest.String()), Size: d.Size}
	}
	out := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: desc(types.OCIConfigJSON, m.Config), Layers: []ocispec.Descriptor{}}
	for _, l := range m.Layers {
		mt := types.OCIUncompressedLayer
		if !l.MediaType.IsLayer() || l.MediaType == types.DockerForeignLayer {
			mt = l.MediaType
		}
		out.Layers = append(out.Layers, desc(mt, l))
	}
	return json.Marshal(out)
}

// Image is the described image; for an index, its image for want (the
// host's platform when want is nil), as crane config and skopeo inspect
// pick one.
func (d *Described) Image(want *v1.Platform) (v1.Image, error) {
	if d.Item.Index == nil {
		return d.Item.Image, nil
	}
	p := platform.Host()
	if want != nil {
		p = *want
	}
	items, err := FilterPlatforms([]Item{d.Item}, ConvertOptions{Platforms: []v1.Platform{p}}, true)
	if err != nil {
		return nil, err
	}
	imgs, err := archive.IndexImages(items[0].Index)
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errors.New("no image for " + platform.String(&p))
	}
	return imgs[0].Image, nil
}
