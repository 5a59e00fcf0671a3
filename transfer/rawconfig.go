package transfer

import (
	"bytes"
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// rawConfigImage is an image whose config is given as bytes: the layers
// and manifest of another image, with the manifest's config descriptor
// pointing at these bytes (ggcr's mutate.ConfigFile re-marshals a
// ConfigFile struct and loses the keys it does not know).
type rawConfigImage struct {
	v1.Image
	config, manifest []byte
	configName       v1.Hash
}

func withRawConfig(base v1.Image, config []byte) (v1.Image, error) {
	m, err := base.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	h, n, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return nil, err
	}
	m.Config.Digest, m.Config.Size = h, n
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &rawConfigImage{Image: base, config: config, manifest: raw, configName: h}, nil
}

func (i *rawConfigImage) RawConfigFile() ([]byte, error) { return bytes.Clone(i.config), nil }
func (i *rawConfigImage) ConfigName() (v1.Hash, error)   { return i.configName, nil }
func (i *rawConfigImage) RawManifest() ([]byte, error)   { return bytes.Clone(i.manifest), nil }
func (i *rawConfigImage) Size() (int64, error)           { return int64(len(i.manifest)), nil }

func (i *rawConfigImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.config))
}

func (i *rawConfigImage) Manifest() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(i.manifest))
}

func (i *rawConfigImage) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.manifest))
	return h, err
}
