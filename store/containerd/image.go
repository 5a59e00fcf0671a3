package containerd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// resolved is an image record's target, followed down to the manifest of
// this host's platform and its config.
type resolved struct {
	id       v1.Hash // the target digest: Docker 29's image ID
	target   descriptor
	manifest []byte
	parsed   *v1.Manifest
	config   []byte
	diffIDs  []v1.Hash
}

// resolve reads a target: a manifest, or an index whose entry for this
// platform (containerd's default matcher) is present.
func (s *Store) resolve(target descriptor) (*resolved, error) {
	id, err := v1.NewHash(target.Digest)
	if err != nil {
		return nil, fmt.Errorf("containerd image target %q: %w", target.Digest, err)
	}
	r := &resolved{id: id, target: target}
	dgst, mt := target.Digest, target.MediaType
	for depth := 0; isIndex(mt); depth++ {
		if depth > 4 {
			return nil, fmt.Errorf("image %s: indexes nested too deep", id)
		}
		b, err := s.readBlob(dgst)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", id, err)
		}
		if dgst, mt, err = s.pickManifest(b); err != nil {
			return nil, fmt.Errorf("image %s: %w", id, err)
		}
	}
	if r.manifest, err = s.readBlob(dgst); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	if r.parsed, err = v1.ParseManifest(bytes.NewReader(r.manifest)); err != nil {
		return nil, fmt.Errorf("image %s: manifest %s: %w", id, dgst, err)
	}
	if r.config, err = s.readBlob(r.parsed.Config.Digest.String()); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	if r.diffIDs, err = store.ParseConfig(r.config); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	if len(r.diffIDs) != len(r.parsed.Layers) {
		return nil, fmt.Errorf("image %s: %d layers in the manifest, %d diff_ids in the config", id, len(r.parsed.Layers), len(r.diffIDs))
	}
	return r, nil
}

func isIndex(mt string) bool {
	return mt == string(types.OCIImageIndex) || mt == string(types.DockerManifestList)
}

// pickManifest chooses the index entry containerd's default platform
// matcher prefers among those whose manifest is in the content store.
func (s *Store) pickManifest(index []byte) (string, string, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(index))
	if err != nil {
		return "", "", err
	}
	matcher := platforms.Default()
	best := -1
	for i, m := range idx.Manifests {
		if p, _ := s.blobPath(m.Digest.String()); !exists(p) {
			continue
		}
		if m.Platform == nil {
			// containerd takes an entry without a platform as a match,
			// behind any entry whose platform matches
			if best < 0 {
				best = i
			}
			continue
		}
		p := platforms.Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant}
		if !matcher.Match(p) {
			continue
		}
		if best >= 0 && idx.Manifests[best].Platform != nil {
			bp := idx.Manifests[best].Platform
			if !matcher.Less(p, platforms.Platform{OS: bp.OS, Architecture: bp.Architecture, Variant: bp.Variant}) {
				continue
			}
		}
		best = i
	}
	if best < 0 {
		return "", "", fmt.Errorf("no manifest for %s in the content store", platforms.DefaultString())
	}
	return idx.Manifests[best].Digest.String(), string(idx.Manifests[best].MediaType), nil
}

// layerRecords are the image's layers as store records: chain IDs from
// the config, sizes of the stored blobs.
func (r *resolved) layerRecords() []*store.Layer {
	chains := imageid.ChainIDs(r.diffIDs)
	out := make([]*store.Layer, len(chains))
	for i := range chains {
		l := &store.Layer{ChainID: chains[i], DiffID: r.diffIDs[i], Size: r.parsed.Layers[i].Size}
		if i > 0 {
			l.Parent = chains[i-1]
		}
		out[i] = l
	}
	return out
}

// image is a containerd image as a v1.Image: the manifest and blobs as
// stored (compressed layers stay compressed), the target digest as ID.
type image struct {
	v1.Image
	s *Store
	r *resolved
}

var _ store.Image = (*image)(nil)

func (img *image) ID() v1.Hash                 { return img.r.id }
func (img *image) IDIsTarget() bool            { return true }
func (img *image) StoreLayers() []*store.Layer { return img.r.layerRecords() }
func (s *Store) newImage(r *resolved) (*image, error) {
	core := &imageCore{s: s, r: r}
	v, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, err
	}
	return &image{Image: v, s: s, r: r}, nil
}

// imageCore is partial.CompressedImageCore over the content store.
type imageCore struct {
	s *Store
	r *resolved
}

func (c *imageCore) RawConfigFile() ([]byte, error) { return c.r.config, nil }
func (c *imageCore) RawManifest() ([]byte, error)   { return c.r.manifest, nil }
func (c *imageCore) MediaType() (types.MediaType, error) {
	if c.r.parsed.MediaType != "" {
		return c.r.parsed.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (c *imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == c.r.parsed.Config.Digest {
		return &blobLayer{s: c.s, desc: c.r.parsed.Config}, nil
	}
	for _, l := range c.r.parsed.Layers {
		if l.Digest == h {
			return &blobLayer{s: c.s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("image %s has no blob %s", c.r.id, h)
}

// blobLayer is a content-store blob named by a manifest descriptor.
type blobLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	return l.s.openBlob(l.desc.Digest.String())
}

// info is what images, inspect and history show of a resolved image.
func (r *resolved) info(tags []string) (*store.Info, error) {
	cf, err := v1.ParseConfigFile(bytes.NewReader(r.config))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", r.id, err)
	}
	in := &store.Info{ID: r.id, Tags: tags, Created: cf.Created.Time, Config: r.config, Layers: r.layerRecords()}
	for _, l := range in.Layers {
		in.Size += l.Size
	}
	return in, nil
}

// familiar turns a containerd image name into Docker's familiar form;
// false for names Docker does not show (moby-dangling@…, bad names).
func familiar(name string) (string, bool) {
	if strings.HasPrefix(name, danglingPrefix) {
		return "", false
	}
	ref, err := reference.Parse(name)
	if err != nil {
		return "", false
	}
	return reference.Familiar(ref), true
}

func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
