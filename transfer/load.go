// Package transfer moves images between the store and the other forms:
// it is where a source's v1.Image meets the store's transaction, and where
// store images are handed to an archive writer.
package transfer

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/reference"
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
	// LabelAllChildren: a store that records indexes labels every child
	// of an index, present or not, as containerd does on a pull and on
	// Docker 29's load without --platform; else only the children loaded.
	LabelAllChildren bool
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
	parents := loadParents(entries)
	for i, e := range entries {
		if e.Index != nil {
			l, err := addIndex(ctx, tx, e, opts)
			if err != nil {
				return nil, imageErr(e, err)
			}
			out = append(out, l)
			continue
		}
		id, err := tx.AddImage(WithProgress(e.Image, opts.Progress), parents[i])
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
	// One write of repositories.json for every image's tags, then its
	// digest references (a pull's repo@sha256:…, Docker's RepoDigests).
	sets := make([]store.TagSet, len(entries))
	for i, e := range entries {
		sets[i].ID = out[i].ID
		for _, t := range e.Tags {
			sets[i].Refs = append(sets[i].Refs, t)
		}
		for _, d := range e.DigestRefs {
			// as dockerd's addDigestReference: a digest reference that
			// names another image already (another platform of the same
			// index, pulled before) stays as it is
			if id, err := st.Refs().Resolve(reference.Familiar(d)); err == nil && id != out[i].ID {
				continue
			}
			sets[i].Refs = append(sets[i].Refs, d)
		}
	}
	results, err := st.Refs().SetMany(sets, false)
	if err != nil {
		return out, err
	}
	for i, res := range results {
		for _, r := range res[:len(entries[i].Tags)] {
			out[i].Tags = append(out[i].Tags, r.Ref)
			if r.Previous != (v1.Hash{}) {
				out[i].Renamed = append(out[i].Renamed, r)
			}
		}
	}
	return out, nil
}

// loadParents is each entry's parent to record, as moby's load links
// them: a manifest.json Parent counts only when that image is loaded in
// the same batch and its layers are the first of the child's.
func loadParents(entries []item.Item) []v1.Hash {
	diffs := map[v1.Hash][]v1.Hash{}
	for _, e := range entries {
		if e.Image == nil {
			continue
		}
		if cf, err := e.Image.ConfigFile(); err == nil {
			diffs[e.ID()] = cf.RootFS.DiffIDs
		}
	}
	out := make([]v1.Hash, len(entries))
	for i, e := range entries {
		pd, ok := diffs[e.Parent]
		cd := diffs[e.ID()]
		if !ok || e.Parent == e.ID() || len(pd) > len(cd) {
			continue
		}
		valid := true
		for j := range pd {
			valid = valid && pd[j] == cd[j]
		}
		if valid {
			out[i] = e.Parent
		}
	}
	return out
}

// addIndex stages an index item into a store that records indexes: the
// index as the source holds it (Whole, before a platform choice cut it),
// with the images the cut kept. The first image gives the diff IDs and
// platform reported.
func addIndex(ctx context.Context, tx store.Tx, e Item, opts LoadOptions) (Loaded, error) {
	itx, ok := tx.(store.IndexTx)
	if !ok {
		return Loaded{}, fmt.Errorf("index %s: this store records images, not indexes", e.Digest)
	}
	kept, err := archive.IndexImages(e.Index)
	if err != nil {
		return Loaded{}, err
	}
	if len(kept) == 0 {
		return Loaded{}, fmt.Errorf("index %s: no image to load", e.Digest)
	}
	images := make(map[v1.Hash]v1.Image, len(kept))
	for _, k := range kept {
		images[k.Digest] = wrapImage(k.Image, ctx, opts.Progress)
	}
	whole := e.Whole
	if whole == nil {
		whole = e.Index
	}
	id, err := itx.AddIndex(whole, images, opts.LabelAllChildren)
	if err != nil {
		return Loaded{}, err
	}
	cf, err := kept[0].Image.ConfigFile()
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{ID: id, DiffIDs: cf.RootFS.DiffIDs, Platform: kept[0].Platform}, nil
}

func imageErr(e Item, err error) error {
	if len(e.Tags) > 0 {
		return fmt.Errorf("image %s: %w", e.Tags[0].String(), err)
	}
	return err
}
