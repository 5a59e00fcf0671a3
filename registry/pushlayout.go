package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// PushLayout pushes an OCI image layout directory: the index.json's single
// entry (an image or an index), or index.json itself when it lists several
// images (as ggcr's layout.Write and oras write it). Blobs are pushed as
// stored, so digests are preserved.
func PushLayout(ctx context.Context, ref, dir string, opts Options) (*PushResult, error) {
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("push %s: reading OCI layout %s: %v", ref, dir, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("push %s: reading OCI layout %s: %v", ref, dir, err)
	}
	if len(im.Manifests) == 1 {
		d := im.Manifests[0]
		switch {
		case d.MediaType.IsIndex():
			idx, err := top.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("push %s: %v", ref, err)
			}
			return PushIndex(ctx, ref, idx, opts)
		case d.MediaType.IsImage():
			img, err := top.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("push %s: %v", ref, err)
			}
			return Push(ctx, ref, img, opts)
		}
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("push %s: OCI layout %s holds no image", ref, dir)
	}
	return PushIndex(ctx, ref, top, opts)
}
