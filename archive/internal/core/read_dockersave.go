package core

import (
	"errors"
	"fmt"
	"path"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
)

// manifestItem is one entry of a docker save's manifest.json. moby's
// tarexport.manifestItem is the format's only definition.
type manifestItem struct {
	Config       string
	RepoTags     []string
	Layers       []string
	Parent       string `json:",omitempty"`
	LayerSources map[string]layerSource
}

// layerSource is a LayerSources descriptor read loosely (hand-written, not
// v1.Descriptor): a malformed digest in one of them must not fail the
// whole manifest.json, as it does not in moby; that layer just has no
// known descriptor.
type layerSource struct {
	MediaType types.MediaType `json:"mediaType"`
	Digest    string          `json:"digest"`
	Size      int64           `json:"size"`
}

// loadManifestJSON reads a docker save (any version) or a crane tarball.
// top is the archive's index.json when it has one (Docker 25+): its images
// give each manifest.json entry its manifest and layer descriptors.
func (a *Archive) loadManifestJSON(top *v1.IndexManifest) error {
	var entries []manifestItem
	if _, err := a.readJSON("manifest.json", &entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return errors.New("manifest.json: lists no images")
	}
	if len(entries) > maxItems {
		return fmt.Errorf("manifest.json: lists %d images, more than %d", len(entries), maxItems)
	}
	byConfig := a.manifestsByConfig(top)
	for n, me := range entries {
		it, err := a.manifestJSONItem(n, me, byConfig)
		if err != nil {
			return err
		}
		a.items = append(a.items, it)
	}
	return nil
}

// manifestsByConfig indexes the images of a Docker 25+ save's index.json
// by config digest. It is best effort: an index it cannot read gives none
// (Docker's own load reads only manifest.json).
func (a *Archive) manifestsByConfig(top *v1.IndexManifest) map[v1.Hash]item.Item {
	out := map[v1.Hash]item.Item{}
	if top == nil {
		return out
	}
	items, err := a.walkIndex(top)
	if err != nil {
		return out
	}
	images, err := expand(items)
	if err != nil {
		return out
	}
	for _, it := range images {
		if id := it.ID(); id != (v1.Hash{}) {
			if _, dup := out[id]; !dup {
				out[id] = it
			}
		}
	}
	return out
}

func (a *Archive) manifestJSONItem(n int, me manifestItem, byConfig map[v1.Hash]item.Item) (item.Item, error) {
	what := fmt.Sprintf("manifest.json: item %d", n)
	if me.Config == "" {
		return item.Item{}, fmt.Errorf("%s: no Config", what)
	}
	if len(me.Layers) > maxLayers {
		return item.Item{}, fmt.Errorf("%s: %d layers: max depth exceeded (Docker's limit is %d)", what, len(me.Layers), maxLayers)
	}
	ci, err := a.configAt(me.Config, nil, true)
	if errors.As(err, new(*invalidConfig)) {
		return item.Item{}, fmt.Errorf("%s: %w", what, err)
	}
	if err != nil {
		return item.Item{}, fmt.Errorf("%s: Config: %w", what, err)
	}
	var tags []name.Tag
	for _, s := range me.RepoTags {
		t, err := reference.ParseNamedTagged(s)
		if err != nil {
			return item.Item{}, fmt.Errorf("%s: RepoTags %q: %v", what, s, err)
		}
		tags = append(tags, t)
	}
	img := &image{rawConfig: ci.raw, config: ci.cf, configPath: path.Clean(me.Config)}
	found, ok := byConfig[imageid.FromBytes(ci.raw)]
	var m *v1.Manifest
	if ok {
		m, _ = found.Image.Manifest()
	}
	descs, matched := manifestJSONDescs(me, ci, m)
	if img.layers, err = a.makeLayers(ci, me.Layers, descs, what); err != nil {
		return item.Item{}, err
	}
	it := item.Item{Image: img, Tags: tags, Platform: platformOf(ci.cf)}
	// moby records Parent as an image ID; an unparsable one is ignored,
	// as moby's load only uses it to link images it loaded.
	if me.Parent != "" {
		it.Parent, _ = v1.NewHash(me.Parent)
	}
	if matched {
		raw, _ := found.Image.RawManifest()
		img.rawManifest, img.manifestMT = raw, mediaTypeOf(found.Image)
		it.Digest = found.Digest
		if found.Platform != nil {
			it.Platform = found.Platform
		}
	}
	return it, nil
}

func mediaTypeOf(img v1.Image) types.MediaType {
	mt, _ := img.MediaType()
	return mt
}

// manifestJSONDescs finds each manifest.json layer's descriptor: from the index's
// manifest m when every layer path is that manifest's blob (matched), else
// from LayerSources (foreign layers).
func manifestJSONDescs(me manifestItem, ci *configInfo, m *v1.Manifest) ([]*v1.Descriptor, bool) {
	descs := make([]*v1.Descriptor, len(me.Layers))
	matched := m != nil && len(m.Layers) == len(me.Layers)
	for i, p := range me.Layers {
		c := path.Clean(p)
		if matched {
			ld := m.Layers[i]
			if bp, err := blobPath(ld.Digest); err == nil && bp == c {
				descs[i] = &ld
				continue
			}
			matched = false
		}
		if i < len(ci.diffIDs) {
			if src, ok := me.LayerSources[ci.diffIDs[i].String()]; ok {
				if h, err := v1.NewHash(src.Digest); err == nil {
					if bp, err := blobPath(h); err == nil && bp == c {
						descs[i] = &v1.Descriptor{MediaType: src.MediaType, Digest: h, Size: src.Size}
					}
				}
			}
		}
	}
	return descs, matched
}
