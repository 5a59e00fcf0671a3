package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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

// putManifest PUTs a manifest as is; an error names the manifest, and a
// refusal (docker-registry 2.8 answers MANIFEST_INVALID to a media type
// it does not know, such as the OCI 1.1 rc artifact manifest) says what
// to do.
func (s *session) putManifest(ref name.Reference, raw []byte, mt types.MediaType) error {
	err := s.p.Put(s.ctx, ref, rawManifest{raw: raw, mt: mt})
	if err == nil {
		return nil
	}
	top := s.ref.String()
	prefix := fmt.Sprintf("push %s: manifest %s (%s): ", top, imageid.FromBytes(raw), mt)
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnsupportedMediaType || hasCode(te, transport.ManifestInvalidErrorCode)) {
		return &Error{Ref: top, Op: "push", Status: te.StatusCode, Err: err,
			Msg: prefix + "the registry refused it (" + oneLine(te.Error()) + "): it does not accept this kind of manifest; push it to a registry that does, or convert it to oci:DIR"}
	}
	return describePrefixed("push", top, prefix, err)
}

func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, e := range te.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}
