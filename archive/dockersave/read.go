package dockersave

import (
	"errors"
	"fmt"
	"path"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive/internal/core"
	"github.com/imgtool/imgtool/archive/oci"
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

// Load reads a docker save (any version with manifest.json) or a crane
// tarball. top is the archive's index.json when it has one (Docker 25+):
// its images give each manifest.json entry its manifest and layer
// descriptors.
func Load(a *core.Archive, top *v1.IndexManifest) ([]item.Item, error) {
	var entries []manifestItem
	if _, err := a.ReadJSON("manifest.json", &entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("manifest.json: lists no images")
	}
	if len(entries) > core.MaxItems {
		return nil, fmt.Errorf("manifest.json: lists %d images, more than %d", len(entries), core.MaxItems)
	}
	byConfig := manifestsByConfig(a, top)
	var items []item.Item
	for n, me := range entries {
		it, err := manifestJSONItem(a, n, me, byConfig)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// manifestsByConfig indexes the images of a Docker 25+ save's index.json
// by config digest. It is best effort: an index it cannot read gives none
// (Docker's own load reads only manifest.json).
func manifestsByConfig(a *core.Archive, top *v1.IndexManifest) map[v1.Hash]item.Item {
	out := map[v1.Hash]item.Item{}
	if top == nil {
		return out
	}
	items, err := oci.WalkIndex(a, top)
	if err != nil {
		return out
	}
	images, err := oci.Expand(oci.WithoutArtifacts(items))
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

// manifestJSONItem is entry n of manifest.json as an item.
func manifestJSONItem(a *core.Archive, n int, me manifestItem, byConfig map[v1.Hash]item.Item) (item.Item, error) {
	what := fmt.Sprintf("manifest.json: item %d", n)
	if me.Config == "" {
		return item.Item{}, fmt.Errorf("%s: no Config", what)
	}
	if len(me.Layers) > core.MaxLayers {
		return item.Item{}, fmt.Errorf("%s: %d layers: max depth exceeded (Docker's limit is %d)", what, len(me.Layers), core.MaxLayers)
	}
	ci, err := a.ConfigAt(me.Config, true)
	if errors.As(err, new(*core.InvalidConfig)) {
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
	found, ok := byConfig[imageid.FromBytes(ci.Raw())]
	var m *v1.Manifest
	if ok {
		m, _ = found.Image.Manifest()
	}
	descs, matched := manifestJSONDescs(me, ci, m)
	var manifest []byte
	var mt types.MediaType
	if matched {
		manifest, _ = found.Image.RawManifest()
		mt = mediaTypeOf(found.Image)
	}
	img, err := a.ConfigImage(ci, path.Clean(me.Config), me.Layers, descs, what, manifest, mt)
	if err != nil {
		return item.Item{}, err
	}
	it := item.Item{Image: img, Tags: tags, Platform: core.PlatformOf(ci.File())}
	// moby records Parent as an image ID; an unparsable one is ignored,
	// as moby's load only uses it to link images it loaded.
	if me.Parent != "" {
		it.Parent, _ = v1.NewHash(me.Parent)
	}
	if matched {
		it.Digest = found.Digest
		if found.Platform != nil {
			it.Platform = found.Platform
		}
	}
	return it, nil
}

// mediaTypeOf is img's media type, "" when it has none.
func mediaTypeOf(img v1.Image) types.MediaType {
	mt, _ := img.MediaType()
	return mt
}

// manifestJSONDescs finds each manifest.json layer's descriptor: from the index's
// manifest m when every layer path is that manifest's blob (matched), else
// from LayerSources (foreign layers).
func manifestJSONDescs(me manifestItem, ci *core.ConfigInfo, m *v1.Manifest) ([]*v1.Descriptor, bool) {
	descs := make([]*v1.Descriptor, len(me.Layers))
	matched := m != nil && len(m.Layers) == len(me.Layers)
	for i, p := range me.Layers {
		c := path.Clean(p)
		if matched {
			ld := m.Layers[i]
			if bp, err := core.BlobPath(ld.Digest); err == nil && bp == c {
				descs[i] = &ld
				continue
			}
			matched = false
		}
		if diffIDs := ci.DiffIDs(); i < len(diffIDs) {
			if src, ok := me.LayerSources[diffIDs[i].String()]; ok {
				if h, err := v1.NewHash(src.Digest); err == nil {
					if bp, err := core.BlobPath(h); err == nil && bp == c {
						descs[i] = &v1.Descriptor{MediaType: src.MediaType, Digest: h, Size: src.Size}
					}
				}
			}
		}
	}
	return descs, matched
}
