package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/imageid"
)

// image is a v1.Image read from an archive. The config bytes are kept
// verbatim; the manifest is the archive's own when it had one, otherwise a
// synthesized OCI manifest built on first use.
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
		m := ociManifest{
			SchemaVersion: 2,
			MediaType:     mediaTypeOCIManifest,
			Config: descriptor{
				MediaType: mediaTypeOCIConfig,
				Digest:    imageid.FromBytes(i.rawConfig),
				Size:      int64(len(i.rawConfig)),
			},
			Layers: []descriptor{},
		}
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
			m.Layers = append(m.Layers, descriptor{MediaType: mt, Digest: d, Size: l.ent.size})
		}
		i.synth, i.err = json.Marshal(m)
		i.synthMT = mediaTypeOCIManifest
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

func (i *image) Size() (int64, error) {
	b, _, err := i.manifestBytes()
	return int64(len(b)), err
}

func (i *image) ConfigName() (v1.Hash, error) { return imageid.FromBytes(i.rawConfig), nil }

func (i *image) ConfigFile() (*v1.ConfigFile, error) {
	c := *i.config
	return &c, nil
}

func (i *image) RawConfigFile() ([]byte, error) { return bytes.Clone(i.rawConfig), nil }

func (i *image) Digest() (v1.Hash, error) {
	b, _, err := i.manifestBytes()
	if err != nil {
		return v1.Hash{}, err
	}
	return imageid.FromBytes(b), nil
}

func (i *image) Manifest() (*v1.Manifest, error) {
	b, _, err := i.manifestBytes()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(b))
}

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

// descriptor is an OCI descriptor in the field order of the OCI Go types.
type descriptor struct {
	MediaType   types.MediaType   `json:"mediaType"`
	Digest      v1.Hash           `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *v1.Platform      `json:"platform,omitempty"`
}

type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	Config        descriptor      `json:"config"`
	Layers        []descriptor    `json:"layers"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	Manifests     []descriptor    `json:"manifests"`
}
