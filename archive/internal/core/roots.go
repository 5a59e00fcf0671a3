package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive/ocischema"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
)

// AnnotationRefType marks buildx attestation manifests in an index.
const AnnotationRefType = "vnd.docker.reference.type"

func ContainsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// SniffMT is the media type of a manifest or index blob: its descriptor's,
// else its own mediaType field, else guessed from its shape.
func SniffMT(mt types.MediaType, raw []byte) types.MediaType {
	if mt != "" {
		return mt
	}
	// a probe, not ocispec.Manifest: only whether config or manifests is
	// present tells an untyped manifest from an untyped index
	var probe struct {
		MediaType types.MediaType  `json:"mediaType"`
		Config    *json.RawMessage `json:"config"`
		Manifests *json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Config != nil:
		return types.OCIManifestSchema1
	case probe.Manifests != nil:
		return types.OCIImageIndex
	}
	return ""
}

// archiveIndex is an image index stored in an archive. Its children are
// read on demand; a child whose blobs the archive lacks gives an error
// matching ErrMissing. Hand-written (ggcr's partial has no index
// extender): Image and ImageIndex must serve children from the archive's
// tar index and caches, and the index bytes are kept verbatim.
type archiveIndex struct {
	a      *Archive
	raw    []byte
	mt     types.MediaType
	digest v1.Hash

	checkOnce sync.Once // CheckIndex, run once on first use
	checkErr  error
}

var _ v1.ImageIndex = (*archiveIndex)(nil)

func (x *archiveIndex) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *archiveIndex) Digest() (v1.Hash, error)            { return x.digest, nil }
func (x *archiveIndex) Size() (int64, error)                { return partial.Size(x) }
func (x *archiveIndex) RawManifest() ([]byte, error)        { return bytes.Clone(x.raw), nil }
func (x *archiveIndex) IndexManifest() (*v1.IndexManifest, error) {
	x.checkOnce.Do(func() {
		if err := ocischema.CheckIndex(x.raw); err != nil {
			x.checkErr = fmt.Errorf("index %s: %w", x.digest, err)
		}
	})
	if x.checkErr != nil {
		return nil, x.checkErr
	}
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

func (x *archiveIndex) child(h v1.Hash) (v1.Descriptor, error) {
	im, err := x.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("index %s has no manifest %s", x.digest, h)
}

// childBlob reads child d's blob and checks that it is of the kind is
// accepts (what and kind name them in errors).
func (x *archiveIndex) childBlob(d v1.Descriptor, what, kind string, is func(types.MediaType) bool) ([]byte, types.MediaType, string, error) {
	raw, p, err := x.a.readBlob(d.Digest, d.Size)
	if err != nil {
		return nil, "", p, fmt.Errorf("%s %s: %w", what, d.Digest, err)
	}
	mt := SniffMT(d.MediaType, raw)
	if !is(mt) {
		return nil, "", p, fmt.Errorf("%s: %s is not %s: %w", p, mt, kind, ErrNotImage)
	}
	return raw, mt, p, nil
}

func (x *archiveIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	x.a.mu.Lock()
	img := x.a.byMan[h]
	x.a.mu.Unlock()
	if img != nil {
		return img, nil
	}
	raw, mt, p, err := x.childBlob(d, "manifest", "an image manifest", types.MediaType.IsImage)
	if err != nil {
		return nil, err
	}
	img, _, err = x.a.manifestImage(p, raw, mt, h, false)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// Artifact is child h when it is not a runnable image (Image gave
// ErrNotImage): an OCI artifact, or a manifest of a media type imgtool
// does not run, to be carried unchanged.
func (x *archiveIndex) Artifact(h v1.Hash) (v1.Image, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	raw, _, err := x.a.readBlob(d.Digest, d.Size)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	what := ArtifactOf(raw)
	if mt := SniffMT(d.MediaType, raw); !mt.IsImage() {
		what = fmt.Sprintf("media type %s", mt)
	}
	return x.a.ArtifactOf(d, raw, what)
}

func (x *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	x.a.mu.Lock()
	c := x.a.byIdx[h]
	x.a.mu.Unlock()
	if c != nil {
		return c, nil
	}
	raw, mt, _, err := x.childBlob(d, "index", "an image index", types.MediaType.IsIndex)
	if err != nil {
		return nil, err
	}
	c = &archiveIndex{a: x.a, raw: raw, mt: mt, digest: h}
	x.a.mu.Lock()
	x.a.byIdx[h] = c
	x.a.mu.Unlock()
	return c, nil
}

// ---- index helpers --------------------------------------------------------------

// IsAttestation reports a descriptor of buildx's attestation manifests (or
// any child whose platform is unknown/unknown): not a runnable image.
func IsAttestation(d v1.Descriptor) bool {
	if d.Annotations[AnnotationRefType] != "" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// RawIndex is an image index with its descriptors kept as raw JSON: not
// ocispec.Index, because a rewritten index must keep every untouched
// descriptor byte for byte (unknown fields and key order included).
type RawIndex struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Manifests     []json.RawMessage `json:"manifests"`
	Subject       json.RawMessage   `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Keep decides whether FilterIndex keeps an image descriptor of parent.
type Keep func(parent v1.ImageIndex, d v1.Descriptor) (bool, error)

// FilterIndex returns idx with only the image descriptors keep accepts
// (keep is given the index the descriptor is in, and may fail). Nested
// indexes are filtered recursively and dropped when nothing of them is
// left. When every descriptor is kept, idx itself is returned, so its
// bytes and digest are unchanged; otherwise the new index keeps the
// accepted descriptors byte for byte.
func FilterIndex(idx v1.ImageIndex, keep Keep) (v1.ImageIndex, int, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, 0, err
	}
	var doc RawIndex
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, 0, fmt.Errorf("invalid index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, err
	}
	if len(im.Manifests) != len(doc.Manifests) {
		return nil, 0, fmt.Errorf("invalid index: %d descriptors", len(im.Manifests))
	}
	changed, kept := false, 0
	out := []json.RawMessage{}
	subs := map[v1.Hash]v1.ImageIndex{}
	for i, d := range im.Manifests {
		b, n, ch, err := filterDesc(idx, d, doc.Manifests[i], keep, subs)
		if err != nil {
			return nil, 0, err
		}
		changed = changed || ch
		kept += n
		if b != nil {
			out = append(out, b)
		}
	}
	if !changed {
		return idx, kept, nil
	}
	doc.Manifests = out
	nraw, err := json.Marshal(doc)
	if err != nil {
		return nil, 0, err
	}
	mt, _ := idx.MediaType()
	return &memIndex{base: idx, raw: nraw, mt: mt, subs: subs}, kept, nil
}

// filterDesc filters one descriptor of idx: the bytes to keep (nil to
// drop it), how many images it keeps, and whether it changed. A nested
// index that changed is recorded in subs under its new digest.
func filterDesc(idx v1.ImageIndex, d v1.Descriptor, raw json.RawMessage, keep Keep, subs map[v1.Hash]v1.ImageIndex) (json.RawMessage, int, bool, error) {
	if !d.MediaType.IsIndex() {
		ok, err := keep(idx, d)
		if err != nil || !ok {
			return nil, 0, true, err
		}
		return raw, 1, false, nil
	}
	sub, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, 0, false, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	fsub, n, err := FilterIndex(sub, keep)
	if err != nil || n == 0 {
		return nil, 0, true, err
	}
	if fsub == sub {
		return raw, n, false, nil
	}
	sraw, _ := fsub.RawManifest()
	d.Digest, d.Size = imageid.FromBytes(sraw), int64(len(sraw))
	subs[d.Digest] = fsub
	b, err := json.Marshal(ToDescriptor(d))
	return b, n, true, err
}

// memIndex is an index whose bytes were rewritten; children come from base
// (hand-written like archiveIndex: partial has no index extender).
type memIndex struct {
	base v1.ImageIndex
	raw  []byte
	mt   types.MediaType
	subs map[v1.Hash]v1.ImageIndex
}

func (m *memIndex) MediaType() (types.MediaType, error) { return m.mt, nil }
func (m *memIndex) Digest() (v1.Hash, error)            { return partial.Digest(m) }
func (m *memIndex) Size() (int64, error)                { return partial.Size(m) }
func (m *memIndex) RawManifest() ([]byte, error)        { return bytes.Clone(m.raw), nil }
func (m *memIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(m.raw))
}
func (m *memIndex) Image(h v1.Hash) (v1.Image, error) { return m.base.Image(h) }
func (m *memIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	if s := m.subs[h]; s != nil {
		return s, nil
	}
	return m.base.ImageIndex(h)
}

// IndexImages lists the runnable images of idx, depth first, skipping
// attestation manifests. A platform whose manifest or blobs are absent is
// an error naming it (matching ErrMissing).
func IndexImages(idx v1.ImageIndex) ([]item.Item, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []item.Item
	for _, d := range im.Manifests {
		if IsAttestation(d) {
			continue
		}
		switch {
		case d.MediaType.IsIndex():
			sub, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			more, err := IndexImages(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		default:
			img, err := idx.Image(d.Digest)
			if errors.Is(err, ErrNotImage) {
				continue // an artifact (signature, SBOM, …) beside the images
			}
			if err != nil {
				return nil, fmt.Errorf("platform %s (%s): %w", platform.String(d.Platform), d.Digest, err)
			}
			p := d.Platform
			if p == nil {
				if cf, err := img.ConfigFile(); err == nil {
					p = PlatformOf(cf)
				}
			}
			out = append(out, item.Item{Image: img, Platform: p, Digest: d.Digest})
		}
	}
	return out, nil
}

// CheckImage reports whether every blob an image needs is readable: its
// config and layers (without reading the layers' content).
func CheckImage(img v1.Image) error {
	if _, err := img.RawConfigFile(); err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		if _, err := l.Size(); err != nil {
			return err
		}
	}
	return nil
}
