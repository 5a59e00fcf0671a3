package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive/internal/core"
	"github.com/imgtool/imgtool/archive/ocischema"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
)

// ReadTopIndex reads index.json with the field's types (ggcr's
// v1.IndexManifest: the OCI index with ggcr hashes and platforms).
func ReadTopIndex(a *core.Archive) (*v1.IndexManifest, error) {
	raw, err := a.ReadJSON("index.json", &json.RawMessage{})
	if err != nil {
		return nil, err
	}
	if err := ocischema.CheckIndex(raw); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var top v1.IndexManifest
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("index.json: %v", err)
	}
	return &top, nil
}

// Load reads an OCI layout's items from top, its index.json, and expands
// them to the platform images the archive holds. A layout of artifacts
// only opens (an OCI sink carries them); the sinks that take images say
// it holds none.
func Load(a *core.Archive, top *v1.IndexManifest) (items, images []item.Item, err error) {
	all, err := WalkIndex(a, top)
	if err != nil {
		return nil, nil, err
	}
	a.SetAllItems(all)
	items = WithoutArtifacts(all)
	if images, err = Expand(items); err != nil {
		return nil, nil, err
	}
	if len(all) == 0 {
		if sk := a.Skipped(); len(sk) > 0 {
			return nil, nil, fmt.Errorf("index.json: no image manifests found (skipped: %s)", strings.Join(sk, "; "))
		}
		return nil, nil, errors.New("index.json: no image manifests found")
	}
	return items, images, nil
}

// WalkIndex is the one walk of index.json: each top-level descriptor gives
// one item (an image, or a whole index whose children are read on
// demand); descriptors naming the same blob merge their names. Buildx
// attestation manifests are not items.
func WalkIndex(a *core.Archive, top *v1.IndexManifest) ([]item.Item, error) {
	if len(top.Manifests) > core.MaxItems {
		return nil, fmt.Errorf("index.json: %d descriptors, more than %d", len(top.Manifests), core.MaxItems)
	}
	var out []item.Item
	byDigest := map[v1.Hash]int{}
	single := len(top.Manifests) == 1
	for k, d := range top.Manifests {
		if d.Annotations[core.AnnotationRefType] != "" {
			continue
		}
		tags := tagsFromAnnotations(d.Annotations)
		var refNames []string
		if rn := d.Annotations[core.AnnotationRefName]; rn != "" && len(tags) == 0 {
			refNames = []string{rn}
		}
		if i, ok := byDigest[d.Digest]; ok {
			mergeNames(&out[i], tags, refNames)
			continue
		}
		it, err := indexItem(a, k, d, single)
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
func indexItem(a *core.Archive, k int, d v1.Descriptor, single bool) (*item.Item, error) {
	raw, p, err := a.ReadBlob(d.Digest, d.Size)
	if err != nil {
		return nil, fmt.Errorf("index.json: manifests[%d]: %w", k, err)
	}
	mt := core.SniffMT(d.MediaType, raw)
	switch {
	case mt.IsIndex():
		return &item.Item{Index: a.Index(raw, mt, d.Digest), Digest: d.Digest}, nil
	case mt.IsImage():
		// docker load refuses a non-Linux image unless an index picked it
		img, cf, err := a.ManifestImage(p, raw, mt, d.Digest, single || d.Platform == nil)
		if errors.Is(err, core.ErrNotImage) {
			return artifactItem(a, d, raw, err.Error(), core.ArtifactOf(raw))
		}
		if err != nil {
			return nil, err
		}
		plat := d.Platform
		if plat == nil {
			plat = core.PlatformOf(cf)
		}
		return &item.Item{Image: img, Digest: d.Digest, Platform: plat}, nil
	}
	what := fmt.Sprintf("index.json manifests[%d] %s: media type %q is neither an image nor an index", k, d.Digest, mt)
	return artifactItem(a, d, raw, what, fmt.Sprintf("media type %s", mt))
}

// artifactItem is the item of a top-level manifest that is not a runnable
// image, carried by OCI sinks and skipped, with the line skipped, by the
// others. A document whose blobs the archive lacks is only skipped.
func artifactItem(a *core.Archive, d v1.Descriptor, raw []byte, skipped, what string) (*item.Item, error) {
	x, err := a.ArtifactOf(d, raw, what)
	if err != nil {
		a.Skip(fmt.Sprintf("%s (cannot be carried: %v)", skipped, err))
		return nil, nil
	}
	a.SkipArtifact(skipped)
	return &item.Item{Image: x, Digest: d.Digest, Platform: d.Platform}, nil
}

// WithoutArtifacts is items without the artifacts among them.
func WithoutArtifacts(items []item.Item) []item.Item {
	out := make([]item.Item, 0, len(items))
	for _, it := range items {
		if _, ok := core.AsArtifact(it.Image); !ok {
			out = append(out, it)
		}
	}
	return out
}

// mergeNames adds tags and ref names it does not hold yet.
func mergeNames(it *item.Item, tags []name.Tag, refNames []string) {
	for _, t := range tags {
		if !core.ContainsTag(it.Tags, t) {
			it.Tags = append(it.Tags, t)
		}
	}
	for _, n := range refNames {
		if !core.ContainsString(it.RefNames, n) {
			it.RefNames = append(it.RefNames, n)
		}
	}
}

// Expand lists items with every index replaced by the platform images the
// archive holds, depth first; an image listed twice is kept once with the
// names of both.
func Expand(items []item.Item) ([]item.Item, error) {
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
	if depth >= core.MaxIndexDepth {
		return nil, fmt.Errorf("indexes nested more than %d deep", core.MaxIndexDepth)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) > core.MaxItems {
		return nil, fmt.Errorf("an index of %d descriptors, more than %d", len(im.Manifests), core.MaxItems)
	}
	var out []item.Item
	for _, d := range im.Manifests {
		switch {
		case core.IsAttestation(d):
		case d.MediaType.IsIndex():
			sub, err := idx.ImageIndex(d.Digest)
			if errors.Is(err, core.ErrMissing) {
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
			if errors.Is(err, core.ErrMissing) || errors.Is(err, core.ErrNotImage) {
				continue
			}
			if err != nil {
				return nil, err
			}
			p := d.Platform
			if p == nil {
				if cf, err := img.ConfigFile(); err == nil {
					p = core.PlatformOf(cf)
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
	for _, k := range []string{core.AnnotationContainerdName, core.AnnotationRefName} {
		if s := an[k]; s != "" {
			if t, err := reference.ParseNamedTagged(s); err == nil {
				return []name.Tag{t}
			}
		}
	}
	return nil
}
