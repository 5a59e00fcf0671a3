// Package transfer moves images between the store and the other forms:
// it is where a source's v1.Image meets the store's transaction, and where
// store images are handed to an archive writer.
package transfer

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/store"
)

// Loaded is one image a load registered.
type Loaded struct {
	ID       v1.Hash
	Tags     []string          // familiar references
	Renamed  []store.TagResult // tags moved away from another image
	DiffIDs  []v1.Hash
	Platform *v1.Platform
}

// LoadOptions filter what a load takes from an archive.
type LoadOptions struct {
	// Progress, if set, counts each new layer's bytes as it is unpacked.
	Progress progress.Reporter
}

// Load registers every image of entries in one transaction: all of them
// land, or the store is left as it was.
func Load(ctx context.Context, st store.Store, entries []Item, opts LoadOptions) ([]Loaded, error) {
	unlock, err := st.Writer()
	if err != nil {
		return nil, err
	}
	defer unlock()
	tx := st.Begin()
	defer tx.Abort()
	out := make([]Loaded, 0, len(entries))
	for _, e := range entries {
		id, err := tx.AddImage(WithProgress(e.Image, opts.Progress), v1.Hash{})
		if err != nil {
			return nil, imageErr(e, err)
		}
		cf, err := e.Image.ConfigFile()
		if err != nil {
			return nil, imageErr(e, err)
		}
		out = append(out, Loaded{ID: id, DiffIDs: cf.RootFS.DiffIDs, Platform: e.Platform})
	}
	if err := tx.Extract(ctx, nil); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	for i, e := range entries {
		refs := make([]name.Reference, len(e.Tags))
		for j, t := range e.Tags {
			refs[j] = t
		}
		res, err := st.Refs().Set(out[i].ID, refs, false)
		if err != nil {
			return out, err
		}
		for _, r := range res {
			out[i].Tags = append(out[i].Tags, r.Ref)
			if r.Previous != (v1.Hash{}) {
				out[i].Renamed = append(out[i].Renamed, r)
			}
		}
	}
	return out, nil
}

func imageErr(e Item, err error) error {
	if len(e.Tags) > 0 {
		return fmt.Errorf("image %s: %w", e.Tags[0].String(), err)
	}
	return err
}
