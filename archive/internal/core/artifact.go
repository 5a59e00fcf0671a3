package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Artifact is a manifest that is not a runnable image: an OCI artifact
// (signature, SBOM, attestation, referrer; an empty or unknown config),
// or a document of a media type imgtool does not run. Between OCI
// locations it is carried unchanged, as skopeo copy --all and regclient
// do: the same manifest bytes, the blobs it names (config and layers;
// not its subject, which is another manifest) and its index entry. It is
// a v1.Image only so that it travels in an item.Item; ConfigFile fails
// with ErrNotImage, so nothing mistakes it for an image.
type Artifact struct {
	raw    []byte
	mt     types.MediaType
	digest v1.Hash
	what   string
	config *blobRef // nil for a document that names no config
	layers []*blobRef
	// Entry is the index descriptor that named it (its platform,
	// artifactType and annotations), when it came from one.
	Entry *v1.Descriptor
}

var _ v1.Image = (*Artifact)(nil)

// What says what the artifact is, for messages.
func (x *Artifact) What() string { return x.what }

// Blobs are the blobs the artifact names, config first, as layers that
// stream them as stored.
func (x *Artifact) Blobs() []v1.Layer {
	var out []v1.Layer
	if x.config != nil {
		out = append(out, x.config)
	}
	for _, l := range x.layers {
		out = append(out, l)
	}
	return out
}

func (x *Artifact) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *Artifact) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *Artifact) Digest() (v1.Hash, error)            { return x.digest, nil }
func (x *Artifact) RawManifest() ([]byte, error)        { return x.raw, nil }
func (x *Artifact) Manifest() (*v1.Manifest, error)     { return v1.ParseManifest(bytes.NewReader(x.raw)) }

func (x *Artifact) notImage() error {
	return fmt.Errorf("%s (%s): %w", x.digest, x.what, ErrNotImage)
}

func (x *Artifact) ConfigName() (v1.Hash, error) {
	if x.config == nil {
		return v1.Hash{}, x.notImage()
	}
	return x.config.desc.Digest, nil
}

func (x *Artifact) ConfigFile() (*v1.ConfigFile, error) { return nil, x.notImage() }

func (x *Artifact) RawConfigFile() ([]byte, error) {
	if x.config == nil {
		return nil, x.notImage()
	}
	rc, err := x.config.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxJSONSize))
}

func (x *Artifact) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(x.layers))
	for i, l := range x.layers {
		out[i] = l
	}
	return out, nil
}

func (x *Artifact) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range x.Blobs() {
		if d, _ := l.Digest(); d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("artifact %s names no blob %s", x.digest, h)
}

func (x *Artifact) LayerByDiffID(h v1.Hash) (v1.Layer, error) { return x.LayerByDigest(h) }

// AsArtifact returns img as an Artifact when it is one.
func AsArtifact(img v1.Image) (*Artifact, bool) {
	x, ok := img.(*Artifact)
	return x, ok
}

// blobRef is one blob an artifact names, served from the archive as
// stored, or by src (a registry's blob, which checks its own digest);
// an archive blob's digest is checked by whoever copies it
// (PlanLayer.Open).
type blobRef struct {
	ix   *tarIndex
	ent  *tarEntry
	src  v1.Layer
	desc v1.Descriptor
}

var _ v1.Layer = (*blobRef)(nil)

func (b *blobRef) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *blobRef) DiffID() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *blobRef) Size() (int64, error)                { return b.desc.Size, nil }
func (b *blobRef) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *blobRef) Compressed() (io.ReadCloser, error) {
	if b.src != nil {
		return b.src.Compressed()
	}
	return io.NopCloser(b.ix.section(b.ent)), nil
}
func (b *blobRef) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }

// artifactShape is the part of a manifest an artifact's blobs are read
// from; an index-shaped or unknown document names none.
type artifactShape struct {
	Config *v1.Descriptor  `json:"config"`
	Layers []v1.Descriptor `json:"layers"`
}

// artifactOf makes the Artifact of the manifest raw (what says what it
// is). Every blob it names must be in the archive with its descriptor's
// size; a missing one is an ErrMissing error.
func (a *Archive) artifactOf(raw []byte, mt types.MediaType, digest v1.Hash, what string) (*Artifact, error) {
	x := &Artifact{raw: raw, mt: mt, digest: digest, what: what}
	err := x.nameBlobs(func(d v1.Descriptor) (*blobRef, error) {
		p, err := BlobPath(d.Digest)
		if err != nil {
			return nil, err
		}
		e, err := a.ix.lookup(p)
		if err != nil {
			return nil, err
		}
		if e.size != d.Size {
			return nil, fmt.Errorf("%s is %d bytes, its descriptor says %d", p, e.size, d.Size)
		}
		return &blobRef{ix: a.ix, ent: e, desc: d}, nil
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// nameBlobs sets the artifact's config and layers from its manifest, each
// blob given by ref.
func (x *Artifact) nameBlobs(ref func(v1.Descriptor) (*blobRef, error)) error {
	var shape artifactShape
	if err := json.Unmarshal(x.raw, &shape); err != nil {
		return fmt.Errorf("%s: %v", x.digest, err)
	}
	var err error
	if shape.Config != nil {
		if x.config, err = ref(*shape.Config); err != nil {
			return fmt.Errorf("artifact %s: config: %w", x.digest, err)
		}
	}
	for i, d := range shape.Layers {
		l, err := ref(d)
		if err != nil {
			return fmt.Errorf("artifact %s: blob %d: %w", x.digest, i, err)
		}
		x.layers = append(x.layers, l)
	}
	return nil
}

// NewArtifact is the artifact of raw, the manifest d names, read from
// elsewhere than an archive (a registry): blob gives each blob it names
// (config and layers) as a layer that streams it as stored and checks
// its digest.
func NewArtifact(d v1.Descriptor, raw []byte, what string, blob func(v1.Descriptor) (v1.Layer, error)) (*Artifact, error) {
	x := &Artifact{raw: raw, mt: SniffMT(d.MediaType, raw), digest: d.Digest, what: what, Entry: &d}
	err := x.nameBlobs(func(bd v1.Descriptor) (*blobRef, error) {
		l, err := blob(bd)
		if err != nil {
			return nil, err
		}
		return &blobRef{src: l, desc: bd}, nil
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// ArtifactAt is the artifact of the manifest blob d names in the archive
// (read and checked against d), with d as its index entry.
func (a *Archive) ArtifactAt(d v1.Descriptor, what string) (*Artifact, error) {
	raw, _, err := a.readBlob(d.Digest, d.Size)
	if err != nil {
		return nil, err
	}
	return a.ArtifactOf(d, raw, what)
}

// ArtifactOf is the artifact of raw, the manifest blob d names.
func (a *Archive) ArtifactOf(d v1.Descriptor, raw []byte, what string) (*Artifact, error) {
	x, err := a.artifactOf(raw, SniffMT(d.MediaType, raw), d.Digest, what)
	if err != nil {
		return nil, err
	}
	x.Entry = &d
	return x, nil
}

// EntryDescriptor is the index entry of an artifact: its source entry's
// platform, artifactType and annotations, with the given media type,
// digest and size.
func (x *Artifact) EntryDescriptor() ocispec.Descriptor {
	d := OCIDesc(x.mt, x.digest, int64(len(x.raw)))
	if x.Entry == nil {
		return d
	}
	src := ToDescriptor(*x.Entry)
	d.Platform, d.ArtifactType, d.URLs = src.Platform, src.ArtifactType, src.URLs
	for k, v := range src.Annotations {
		if k == AnnotationRefName || k == AnnotationContainerdName {
			continue
		}
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[k] = v
	}
	return d
}

// OnlyArtifacts reports an index whose manifests, nested indexes
// included, are all artifacts (regclient's referrer and artifact
// indexes): a sink that does not carry artifacts has nothing to take from
// it. An index with any image, even one whose blobs are absent, or that
// cannot be read, is not one.
func OnlyArtifacts(idx v1.ImageIndex) bool { return onlyArtifacts(idx, 0) }

func onlyArtifacts(idx v1.ImageIndex, depth int) bool {
	if depth > MaxIndexDepth {
		return false
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		return false
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			sub, err := idx.ImageIndex(d.Digest)
			if err != nil || !onlyArtifacts(sub, depth+1) {
				return false
			}
			continue
		}
		if d.MediaType.IsImage() && d.Platform != nil && !IsAttestation(d) {
			return false // an image by the index's word: no child is read (a registry would fetch it)
		}
		if _, err := idx.Image(d.Digest); !errors.Is(err, ErrNotImage) {
			return false
		}
	}
	return true
}

// IsImageConfig reports a config a runnable image can have (what the
// archive reader accepts): a manifest naming another is an artifact when
// ArtifactOf says so.
func IsImageConfig(raw []byte) bool {
	_, err := parseConfig("config", raw)
	return err == nil
}
