package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/imageid"
)

// Pushing artifacts as skopeo copy --all --preserve-digests does: the
// blobs they name (config, the empty config included, and layers) as
// stored, then the manifest's own bytes by digest with its own media
// type. A manifest with a subject is pushed as is: the registry's
// referrers API is its own business (docker-registry 2.8 has none).

// PushArtifact uploads an artifact unchanged and tags it ref.
func PushArtifact(ctx context.Context, ref string, x *archive.Artifact, opts Options) (*PushResult, error) {
	s, err := newSession(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	s.planArtifact(x)
	return s.run(func(*PushResult) ([]byte, types.MediaType, error) {
		raw, _ := x.RawManifest()
		mt, _ := x.MediaType()
		return raw, mt, nil
	})
}

// planChildArtifact plans child h of idx, which is not a runnable image,
// as an artifact to push unchanged.
func (s *session) planChildArtifact(idx v1.ImageIndex, h v1.Hash) (*archive.Artifact, error) {
	img, err := archive.ChildArtifact(idx, h)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	x, ok := img.(*archive.Artifact)
	if !ok {
		return nil, fmt.Errorf("manifest %s: not an artifact", h)
	}
	s.planArtifact(x)
	return x, nil
}

// planArtifact adds the blobs x names to the upload, once each.
func (s *session) planArtifact(x *archive.Artifact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range x.Blobs() {
		d, _ := b.Digest()
		mt, _ := b.MediaType()
		key := "art:" + d.String() // apart from image layers: those have a diff ID
		if _, ok := s.byKey[key]; ok {
			continue
		}
		pl := &pushLayer{src: b, artifact: true, diffID: d, mt: mt}
		s.byKey[key] = pl
		s.layers = append(s.layers, pl)
	}
}

// putManifest PUTs a manifest as is; an error (a registry that refuses
// a media type or field it does not accept) names the manifest.
func (s *session) putManifest(ref name.Reference, raw []byte, mt types.MediaType) error {
	if err := s.p.Put(s.ctx, ref, rawManifest{raw: raw, mt: mt}); err != nil {
		return fmt.Errorf("pushing manifest %s (%s): %w", imageid.FromBytes(raw), mt, err)
	}
	return nil
}
