package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ListTags lists the tags of repo (every page of /v2/REPO/tags/list), as
// crane ls does.
func ListTags(ctx context.Context, repo string, opts Options) ([]string, error) {
	r, err := name.NewRepository(repo, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("ls: invalid repository %q: %v", repo, err)
	}
	ro, err := opts.remoteOptions(ctx, r.RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("ls %s: %w", repo, err)
	}
	tags, err := remote.List(r, ro...)
	if err != nil {
		return nil, describe("ls", repo, err)
	}
	return tags, nil
}
