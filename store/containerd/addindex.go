package containerd

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/store"
)

var _ store.IndexTx = (*tx)(nil)

// KeepsIndexes: an image record here targets the index of a
// multi-platform image, as Docker 29 and ctr images import record it.
func (s *Store) KeepsIndexes() bool { return true }

// AddIndex stages a multi-platform image as containerd's import does: the
// index bytes as they are, the children given (images, by manifest
// digest) with their blobs, and on every index the GC labels to the
// children staged under it; children not given are left out, as an
// import leaves out what its platform matcher does not take. The index
// is the image record's target. With labelAll every child is labelled,
// staged or not: containerd's pull sets the labels before it filters
// platforms (so that a later pull of another platform is kept too), and
// Docker 29's load imports with a matcher that takes any platform,
// skipping missing content; ctr images import (the host's platform) and
// a load with --platform label the children they take.
func (t *tx) AddIndex(idx v1.ImageIndex, images map[v1.Hash]v1.Image, labelAll bool) (v1.Hash, error) {
	t.labelAll = labelAll
	d, n, err := t.stageIndex(idx, images, 0)
	if err != nil {
		return v1.Hash{}, err
	}
	if n == 0 {
		return v1.Hash{}, fmt.Errorf("index %s: none of its manifests is loaded", d.Digest)
	}
	t.targets = append(t.targets, d)
	return v1.NewHash(d.Digest)
}

// stageIndex stages idx and what it holds of images; n counts the
// children staged (an index with none is not staged).
func (t *tx) stageIndex(idx v1.ImageIndex, images map[v1.Hash]v1.Image, depth int) (d descriptor, n int, err error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return d, 0, err
	}
	d = descriptor{Digest: digestOf(raw), Size: int64(len(raw)), MediaType: string(types.OCIImageIndex)}
	if mt, err := idx.MediaType(); err == nil && mt != "" {
		d.MediaType = string(mt)
	}
	if depth > 4 {
		return d, 0, fmt.Errorf("index %s: indexes nested too deep", d.Digest)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return d, 0, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	var staged []v1.Descriptor
	for _, c := range im.Manifests {
		ok, err := t.stageChild(idx, c, images, depth)
		if err != nil {
			return d, 0, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		if ok {
			staged = append(staged, c)
		}
	}
	if len(staged) == 0 {
		return d, 0, nil
	}
	if t.labelAll {
		staged = im.Manifests
	}
	if _, err := t.putBytes(raw, indexGCLabels(staged)); err != nil {
		return d, 0, err
	}
	return d, len(staged), nil
}

// stageChild stages one entry of idx if it is a given image or an index
// holding one; it reports whether it did.
func (t *tx) stageChild(idx v1.ImageIndex, c v1.Descriptor, images map[v1.Hash]v1.Image, depth int) (bool, error) {
	if c.MediaType.IsIndex() {
		sub, err := idx.ImageIndex(c.Digest)
		if err != nil {
			return false, nil // not in the source: left out, as an import skips it
		}
		_, n, err := t.stageIndex(sub, images, depth+1)
		return n > 0, err
	}
	img, ok := images[c.Digest]
	if !ok {
		return false, nil
	}
	got, err := t.stageImage(img)
	if err != nil {
		return false, fmt.Errorf("manifest %s: %w", c.Digest, err)
	}
	if got.Digest != c.Digest.String() {
		return false, fmt.Errorf("manifest %s hashes to %s", c.Digest, got.Digest)
	}
	return true, nil
}

// indexGCLabels are the labels containerd's import and pull put on an
// index for its children (images.SetChildrenMappedLabels with
// ChildGCLabels): manifests m.0, m.1, …, indexes 0, 1, … in index order.
func indexGCLabels(children []v1.Descriptor) map[string]string {
	labels := map[string]string{}
	nm, ni := 0, 0
	for _, c := range children {
		if c.MediaType.IsIndex() {
			labels[fmt.Sprintf("containerd.io/gc.ref.content.%d", ni)] = c.Digest.String()
			ni++
			continue
		}
		labels[fmt.Sprintf("containerd.io/gc.ref.content.m.%d", nm)] = c.Digest.String()
		nm++
	}
	return labels
}
