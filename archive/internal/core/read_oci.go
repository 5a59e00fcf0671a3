package core

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
)

// maxIndexDepth bounds nested indexes (containerd nests one level; more is
// hostile).
const maxIndexDepth = 8

// readTopIndex reads index.json with the field's types (ggcr's
// v1.IndexManifest: the OCI index with ggcr hashes and platforms).
func (a *Archive) readTopIndex() (*v1.IndexManifest, error) {
	var top v1.IndexManifest
	if _, err := a.readJSON("index.json", &top); err != nil {
		return nil, err
	}
	return &top, nil
}

// walkIndex is the one walk of index.json: each top-level descriptor gives
// one item (an image, or a whole index whose children are read on
// demand); descriptors naming the same blob merge their names. Buildx
// attestation manifests are not items.
func (a *Archive) walkIndex(top *v1.IndexManifest) ([]item.Item, error) {
	if len(top.Manifests) > maxItems {
		return nil, fmt.Errorf("index.json: %d descriptors, more than %d", len(top.Manifests), maxItems)
	}
	var out []item.Item
	byDigest := map[v1.Hash]int{}
	single := len(top.Manifests) == 1
	for k, d := range top.Manifests {
		if d.Annotations[annotationRefType] != "" {
			continue
		}
		tags := tagsFromAnnotations(d.Annotations)
		var refNames []string
		if rn := d.Annotations[AnnotationRefName]; rn != "" && len(tags) == 0 {
			refNames = []string{rn}
		}
		if i, ok := byDigest[d.Digest]; ok {
			mergeNames(&out[i], tags, refNames)
			continue
		}
		it, err := a.indexItem(k, d, single)
		if err != nil {
			return nil, err
		}
		if it == nil {
			continue
		}
		it.Tags, it.RefNames = tags, refNames
		byDigest[d.Digest] = len(out)
		out = append(out, *it)
	}
	return out, nil
}

// indexItem reads the blob a top-level descriptor names; nil for a
// manifest that is neither an image nor an index.
func (a *Archive) indexItem(k int, d v1.Descriptor, single bool) (*item.Item, error) {
	raw, p, err := a.readBlob(d.Digest, d.Size)
	if err != nil {
		return nil, fmt.Errorf("index.json: manifests[%d]: %w", k, err)
	}
	mt := sniffMT(d.MediaType, raw)
	switch {
	case mt.IsIndex():
		return &item.Item{Index: &archiveIndex{a: a, raw: raw, mt: mt, digest: d.Digest}, Digest: d.Digest}, nil
	case mt.IsImage():
		// docker load refuses a non-Linux image unless an index picked it
		img, ci, err := a.manifestImage(p, raw, mt, d.Digest, single || d.Platform == nil)
		if err != nil {
			return nil, err
		}
		plat := d.Platform
		if plat == nil {
			plat = platformOf(ci.cf)
		}
		return &item.Item{Image: img, Digest: d.Digest, Platform: plat}, nil
	}
	return nil, nil
}

func mergeNames(it *item.Item, tags []name.Tag, refNames []string) {
	for _, t := range tags {
		if !ContainsTag(it.Tags, t) {
			it.Tags = append(it.Tags, t)
		}
	}
	for _, n := range refNames {
		if !containsString(it.RefNames, n) {
			it.RefNames = append(it.RefNames, n)
		}
	}
}

// expand lists items with every index replaced by the platform images the
// archive holds, depth first; an image listed twice is kept once with the
// names of both.
func expand(items []item.Item) ([]item.Item, error) {
	var out []item.Item
	byDigest := map[v1.Hash]int{}
	add := func(it item.Item) {
		if it.Digest != (v1.Hash{}) {
			if i, ok := byDigest[it.Digest]; ok {
				mergeNames(&out[i], it.Tags, it.RefNames)
				return
			}
			byDigest[it.Digest] = len(out)
		}
		out = append(out, it)
	}
	for _, it := range items {
		if it.Index == nil {
			add(it)
			continue
		}
		pis, err := presentImages(it.Index, 0)
		if err != nil {
			return nil, err
		}
		for _, pi := range pis {
			pi.Tags, pi.RefNames = it.Tags, it.RefNames
			add(pi)
		}
	}
	return out, nil
}

// presentImages is IndexImages without the platforms whose manifest or
// blobs are absent: containerd exports list every platform of an index but
// hold only the ones asked for.
func presentImages(idx v1.ImageIndex, depth int) ([]item.Item, error) {
	if depth >= maxIndexDepth {
		return nil, fmt.Errorf("indexes nested more than %d deep", maxIndexDepth)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) > maxItems {
		return nil, fmt.Errorf("an index of %d descriptors, more than %d", len(im.Manifests), maxItems)
	}
	var out []item.Item
	for _, d := range im.Manifests {
		switch {
		case IsAttestation(d):
		case d.MediaType.IsIndex():
			sub, err := idx.ImageIndex(d.Digest)
			if errors.Is(err, ErrMissing) {
				continue
			}
			if err != nil {
				return nil, err
			}
			more, err := presentImages(sub, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		case d.MediaType.IsImage() || d.MediaType == "":
			img, err := idx.Image(d.Digest)
			if errors.Is(err, ErrMissing) {
				continue
			}
			if err != nil {
				return nil, err
			}
			p := d.Platform
			if p == nil {
				if cf, err := img.ConfigFile(); err == nil {
					p = platformOf(cf)
				}
			}
			out = append(out, item.Item{Image: img, Platform: p, Digest: d.Digest})
		}
	}
	return out, nil
}

// tagsFromAnnotations: io.containerd.image.name when it is a tag reference,
// else org.opencontainers.image.ref.name when it is a full name:tag
// reference (a bare tag such as "latest" gives nothing).
func tagsFromAnnotations(an map[string]string) []name.Tag {
	for _, k := range []string{AnnotationContainerdName, AnnotationRefName} {
		if s := an[k]; s != "" {
			if t, err := reference.ParseNamedTagged(s); err == nil {
				return []name.Tag{t}
			}
		}
	}
	return nil
}

// manifestImage builds the image of a manifest blob at p (cached by
// digest, so an index naming a manifest twice reads it once).
func (a *Archive) manifestImage(p string, raw []byte, mt types.MediaType, digest v1.Hash, checkOS bool) (*image, *configInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if img := a.byMan[digest]; img != nil {
		return img, &configInfo{raw: img.rawConfig, cf: img.config, diffIDs: img.config.RootFS.DiffIDs}, nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: invalid manifest: %v", p, err)
	}
	cp, err := blobPath(m.Config.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: config: %v", p, err)
	}
	ci, err := a.configAt(cp, &m.Config, checkOS)
	if errors.As(err, new(*invalidConfig)) {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: config: %w", p, err)
	}
	paths := make([]string, len(m.Layers))
	descs := make([]*v1.Descriptor, len(m.Layers))
	for i := range m.Layers {
		ld := &m.Layers[i]
		if paths[i], err = blobPath(ld.Digest); err != nil {
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

func ContainsTag(ts []name.Tag, t name.Tag) bool {
	for _, x := range ts {
		if x.String() == t.String() {
			return true
		}
	}
	return false
}
