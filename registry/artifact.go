package registry

import (
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/transfer"
)

// Artifacts in a registry: manifests that are not runnable images (OCI
// artifacts: signatures, SBOMs, attestations, referrers; documents of a
// media type imgtool does not run). They are read as archive.Artifacts,
// whose blobs stream from the registry checked against their digests, so
// a sink that carries artifacts (an OCI layout or archive, a registry)
// copies them unchanged, as skopeo copy --all does; the store skips them
// with a line, as it does an OCI layout's.

// artifactKind says what manifest raw (media type mt) is when it is not a
// runnable image, "" for an image or an index, deciding as the archive
// reader does: a media type that is neither, or an OCI artifact
// (archive.ArtifactOf) whose config is no image config. config fetches
// the config's bytes, only when they decide.
func artifactKind(raw []byte, mt types.MediaType, config func() ([]byte, error)) (string, error) {
	switch {
	case mt.IsIndex(), mt.IsSchema1():
		return "", nil
	case !mt.IsImage():
		return "media type " + string(mt), nil
	}
	what := archive.ArtifactOf(raw)
	if what == "" {
		return "", nil
	}
	cfg, err := config()
	if err != nil {
		return "", err
	}
	if archive.IsImageConfig(cfg) {
		return "", nil // buildx attestations, cosign signatures: read as images, as from a layout
	}
	return what, nil
}

// artifact is manifest d (raw, what it is) of the opened repository as
// an artifact whose blobs are fetched when read.
func (o *Opened) artifact(d v1.Descriptor, raw []byte, what string) (*archive.Artifact, error) {
	o.pullerOnce.Do(func() { o.puller, o.pullerErr = remote.NewPuller(o.ro...) })
	if o.pullerErr != nil {
		return nil, o.pullerErr
	}
	repo := o.Ref.Context()
	return archive.NewArtifact(d, raw, what, func(bd v1.Descriptor) (v1.Layer, error) {
		rl, err := o.puller.Layer(o.ctx, repo.Digest(bd.Digest.String()))
		if err != nil {
			return nil, describe("pull", o.Ref.String(), err)
		}
		return &pullLayer{remote: rl, desc: bd, diffID: bd.Digest, ref: o.Ref.String(), ctx: o.ctx, backoff: o.pulled.opts.backoff()}, nil
	})
}

// openArtifact makes the opened reference's manifest, an artifact, its
// item: taken by sinks that carry artifacts (AllItems), skipped with a
// line by the others.
func (o *Opened) openArtifact(it transfer.Item, desc *remote.Descriptor, what string) error {
	x, err := o.artifact(desc.Descriptor, desc.Manifest, what)
	if err != nil {
		return fmt.Errorf("pull %s: %w", o.Ref, err)
	}
	it.Image = x
	o.all = []transfer.Item{it}
	o.skipped = []string{fmt.Sprintf("manifest %s (%s)", desc.Digest, what)}
	return nil
}

// AllItems are Items, or the artifact the reference names, for sinks
// that carry artifacts.
func (o *Opened) AllItems() []transfer.Item {
	if o.all != nil {
		return o.all
	}
	return o.Items()
}

// Skipped names the artifact the reference names, which Items leaves out.
func (o *Opened) Skipped() []string { return o.skipped }

// SkippedByAll is what even AllItems leaves out: nothing.
func (o *Opened) SkippedByAll() []string { return nil }

// childKind fetches child h of the index and says what it is when it is
// an artifact ("" for an image), with its manifest bytes.
func (x *pullIndex) childKind(h v1.Hash) (v1.Image, []byte, string, error) {
	img, err := x.base.Image(h)
	if err != nil {
		return nil, nil, "", describe("pull", x.ref, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, nil, "", describe("pull", x.ref, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, nil, "", err
	}
	if err := checkDocument(raw, mt); err != nil {
		return nil, nil, "", fmt.Errorf("pull %s: manifest %s: %w", x.ref, h, err)
	}
	what, err := artifactKind(raw, mt, img.RawConfigFile)
	if err != nil {
		return nil, nil, "", describe("pull", x.ref, err)
	}
	return img, raw, what, nil
}

// Artifact is child h when it is an artifact (Image gave ErrNotImage),
// carried unchanged by sinks that carry artifacts (archive.ChildArtifact).
func (x *pullIndex) Artifact(h v1.Hash) (v1.Image, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if a, ok := x.arts[h]; ok {
		return a, nil
	}
	im, err := x.base.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Digest != h {
			continue
		}
		_, raw, what, err := x.childKind(h)
		if err != nil {
			return nil, err
		}
		if what == "" {
			return nil, errors.New("manifest " + h.String() + " is an image, not an artifact")
		}
		a, err := x.o.artifact(d, raw, what)
		if err != nil {
			return nil, err
		}
		if x.arts == nil {
			x.arts = map[v1.Hash]*archive.Artifact{}
		}
		x.arts[h] = a
		return a, nil
	}
	return nil, fmt.Errorf("no child with digest %s in index %s", h, x.ref)
}

// artifactsMu guards a pullIndex's artifacts.
type artifactsMu struct {
	mu   sync.Mutex
	arts map[v1.Hash]*archive.Artifact
}
