package dir

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive/ocischema"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// index is manifest.json as an index; its instances are
// <hex>.manifest.json files, as containers/image writes them.
type index struct {
	d   *layout
	raw []byte
	mt  types.MediaType
}

func (x *index) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *index) RawManifest() ([]byte, error)        { return x.raw, nil }
func (x *index) Size() (int64, error)                { return int64(len(x.raw)), nil }

func (x *index) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(x.raw))
	return h, err
}

func (x *index) IndexManifest() (*v1.IndexManifest, error) {
	if err := ocischema.CheckIndex(x.raw); err != nil {
		return nil, fmt.Errorf("dir:%s: manifest list: %w", x.d.path, err)
	}
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

// instance reads <hex>.manifest.json and checks it against h.
func (x *index) instance(h v1.Hash) ([]byte, types.MediaType, error) {
	name, err := blobName(h)
	if err != nil {
		return nil, "", err
	}
	raw, err := x.d.read(name + ".manifest.json")
	if err != nil {
		return nil, "", err
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(raw)); got != h {
		return nil, "", fmt.Errorf("dir:%s: %s.manifest.json hashes to %s", x.d.path, h.Hex, got)
	}
	mt, err := sniff(raw)
	return raw, mt, err
}

func (x *index) Image(h v1.Hash) (v1.Image, error) {
	raw, mt, err := x.instance(h)
	if err != nil {
		return nil, err
	}
	return x.d.image(raw, mt)
}

func (x *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	raw, mt, err := x.instance(h)
	if err != nil {
		return nil, err
	}
	return &index{d: x.d, raw: raw, mt: mt}, nil
}
