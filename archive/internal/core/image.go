package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgtool/imgtool/archive/ocischema"
	"github.com/imgtool/imgtool/imageid"
)

// image is a v1.Image read from an archive. The config bytes are kept
// verbatim; the manifest is the archive's own when it had one, otherwise a
// synthesized OCI manifest built on first use. Manifest, Digest, Size and
// ConfigName are ggcr partial's; the type itself stays hand-written, not
// partial.CompressedToImage, because partial's extender would hide
// ConfigPath and ManifestFromArchive (transfer/verify and the OCI writer
// assert them) and rewrap the archive's layers, hiding UncompressedSize,
// which lets the writers stream uncompressed layers without spooling.
type image struct {
	rawConfig  []byte
	config     *v1.ConfigFile
	layers     []*layer
	configPath string // where the config is in the archive ("" if synthesized)

	// from the archive, when present
	rawManifest []byte
	manifestMT  types.MediaType

	once    sync.Once
	synth   []byte
	synthMT types.MediaType
	err     error
}

var _ v1.Image = (*image)(nil)

func (i *image) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(i.layers))
	for k, l := range i.layers {
		out[k] = l
	}
	return out, nil
}

func (i *image) manifestBytes() ([]byte, types.MediaType, error) {
	if i.rawManifest != nil {
		return i.rawManifest, i.manifestMT, nil
	}
	i.once.Do(func() {
		m := OCIManifest(OCIDesc(MediaTypeOCIConfig, imageid.FromBytes(i.rawConfig), int64(len(i.rawConfig))), nil)
		for _, l := range i.layers {
			d, err := l.Digest()
			if err != nil {
				i.err = err
				return
			}
			mt, err := l.MediaType()
			if err != nil {
				i.err = err
				return
			}
			m.Layers = append(m.Layers, OCIDesc(mt, d, l.ent.size))
		}
		i.synth, i.err = json.Marshal(m)
		i.synthMT = MediaTypeOCIManifest
	})
	return i.synth, i.synthMT, i.err
}

// ConfigPath is the archive path the config was read from ("" for a
// config rebuilt from a legacy v1 json).
func (i *image) ConfigPath() string { return i.configPath }

// ManifestFromArchive reports whether the manifest is the archive's own
// (true) or synthesized from the config and layers (false).
func (i *image) ManifestFromArchive() bool { return i.rawManifest != nil }

func (i *image) MediaType() (types.MediaType, error) {
	_, mt, err := i.manifestBytes()
	return mt, err
}

func (i *image) Size() (int64, error) { return partial.Size(i) }

func (i *image) ConfigName() (v1.Hash, error) { return partial.ConfigName(i) }

func (i *image) ConfigFile() (*v1.ConfigFile, error) {
	c := *i.config
	return &c, nil
}

func (i *image) RawConfigFile() ([]byte, error) { return bytes.Clone(i.rawConfig), nil }

func (i *image) Digest() (v1.Hash, error) { return partial.Digest(i) }

func (i *image) Manifest() (*v1.Manifest, error) { return partial.Manifest(i) }

func (i *image) RawManifest() ([]byte, error) {
	b, _, err := i.manifestBytes()
	return bytes.Clone(b), err
}

func (i *image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if d == h {
			return l, nil
		}
	}
	if h == imageid.FromBytes(i.rawConfig) {
		return nil, fmt.Errorf("digest %s is the config, not a layer", h)
	}
	return nil, fmt.Errorf("no layer with digest %s", h)
}

func (i *image) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer with diff ID %s", h)
}

// The writers marshal OCI image-spec's own Go types (ocispec.Descriptor,
// Manifest, Index); their field order is the one containerd and Docker 25+
// write, so the bytes stay theirs.

// OCIDesc is a descriptor of a blob.
func OCIDesc(mt types.MediaType, h v1.Hash, size int64) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(h.String()), Size: size}
}

// ToDescriptor converts a ggcr descriptor read from an index. The
// pre-OCI "features" platform field (ggcr only, never written by Docker)
// has no place in the OCI type and is dropped.
func ToDescriptor(d v1.Descriptor) ocispec.Descriptor {
	o := OCIDesc(d.MediaType, d.Digest, d.Size)
	o.URLs, o.Annotations, o.Data, o.ArtifactType = d.URLs, d.Annotations, d.Data, d.ArtifactType
	if p := d.Platform; p != nil {
		o.Platform = &ocispec.Platform{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant}
	}
	return o
}

// OCIManifest is an image manifest over config and layers.
func OCIManifest(config ocispec.Descriptor, layers []ocispec.Descriptor) ocispec.Manifest {
	if layers == nil {
		layers = []ocispec.Descriptor{} // "layers": [], never null
	}
	return ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: string(MediaTypeOCIManifest), Config: config, Layers: layers}
}

// manifestImage builds the image of a manifest blob at p (cached by
// digest, so an index naming a manifest twice reads it once).
func (a *Archive) manifestImage(p string, raw []byte, mt types.MediaType, digest v1.Hash, checkOS bool) (*image, *ConfigInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if img := a.byMan[digest]; img != nil {
		return img, &ConfigInfo{raw: img.rawConfig, cf: img.config, diffIDs: img.config.RootFS.DiffIDs}, nil
	}
	if err := ocischema.CheckManifest(raw, string(mt)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: invalid manifest: %v", p, err)
	}
	cp, err := BlobPath(m.Config.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: config: %v", p, err)
	}
	ci, err := a.configAt(cp, &m.Config, checkOS)
	if errors.As(err, new(*InvalidConfig)) {
		// An artifact (signature, SBOM, referrer) is not an image: say so,
		// so readers skip it. One whose config parses as an image config
		// (buildx attestations) is still read as one and travels as such.
		if what := ArtifactOf(raw); what != "" {
			return nil, nil, fmt.Errorf("%s (%s): %w", digest, what, ErrNotImage)
		}
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: config: %w", p, err)
	}
	paths := make([]string, len(m.Layers))
	descs := make([]*v1.Descriptor, len(m.Layers))
	for i := range m.Layers {
		ld := &m.Layers[i]
		if paths[i], err = BlobPath(ld.Digest); err != nil {
			return nil, nil, fmt.Errorf("%s: layer %d: %v", p, i, err)
		}
		descs[i] = ld
	}
	img := &image{rawConfig: ci.raw, config: ci.cf, rawManifest: raw, manifestMT: mt, configPath: cp}
	if img.layers, err = a.makeLayers(ci, paths, descs, p); err != nil {
		return nil, nil, err
	}
	a.byMan[digest] = img
	return img, ci, nil
}

// ContainsTag reports whether ts holds t.
func ContainsTag(ts []name.Tag, t name.Tag) bool {
	for _, x := range ts {
		if x.String() == t.String() {
			return true
		}
	}
	return false
}
