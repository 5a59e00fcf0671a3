package transfer

import (
	"context"
	"errors"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/store"
)

// The store as a location: a source of the images its references name
// (save, push, convert store:…) and the sink every load goes into (load,
// pull, convert …→store:).

type storeSource struct {
	unlock func()
	items  []Item
}

func (s *storeSource) Items() []Item { return s.items }
func (s *storeSource) Close() error {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return nil
}

// openStoreSource resolves every name as docker save does (Selected): a
// tag, a repository (every tag of it), an image ID or a unique ID prefix
// (an ID never becomes a tag). The shared lock is held until Close.
func openStoreSource(_ context.Context, r Ref, env *Env) (Source, error) {
	names := r.Names
	if len(names) == 0 && r.Name != "" {
		names = []string{r.Name}
	}
	if len(names) == 0 {
		return nil, errors.New("store: an image reference is needed")
	}
	st, err := env.Store()
	if err != nil {
		return nil, err
	}
	unlock, err := st.Reader()
	if err != nil {
		return nil, err
	}
	items, err := Selected(st, names)
	if err != nil {
		unlock()
		return nil, err
	}
	for i := range items {
		if cf, err := items[i].Image.ConfigFile(); err == nil {
			items[i].Platform = platform.Of(cf)
		}
	}
	return &storeSource{unlock: unlock, items: items}, nil
}

type storeSink struct {
	ref Ref
	env *Env
}

// Put loads the items in one transaction. A store that records indexes
// (containerd, as Docker 29) takes an index item whole: the index is the
// image, with the platforms Select kept. Into any other (overlay2, as
// Docker 20.10) every image of an index item goes (Select has already cut
// it to the platforms asked for), the item's tags going to its first
// image, since a store name holds one image.
func (s *storeSink) Put(ctx context.Context, items []Item, opts ConvertOptions) ([]Written, error) {
	st, err := s.env.Store()
	if err != nil {
		return nil, err
	}
	keepIndexes := store.KeepsIndexes(st)
	var images []Item
	for _, it := range items {
		if it.Index == nil {
			it.Image = wrapImage(it.Image, ctx, nil)
			images = append(images, it)
			continue
		}
		if keepIndexes {
			images = append(images, it)
			continue
		}
		pis, err := archive.IndexImages(it.Index)
		if err != nil {
			return nil, err
		}
		for i, pi := range pis {
			if i == 0 {
				pi.Tags, pi.DigestRefs = it.Tags, it.DigestRefs
			}
			pi.Image = wrapImage(pi.Image, ctx, nil)
			images = append(images, pi)
		}
	}
	loaded, err := Load(ctx, st, images, LoadOptions{Progress: opts.Progress,
		LabelAllChildren: len(opts.Platforms) == 0 || opts.FromRegistry})
	if err != nil {
		return nil, err
	}
	out := make([]Written, len(loaded))
	for i, l := range loaded {
		out[i] = Written{Tags: l.Tags, ID: l.ID, Digest: images[i].Digest, DiffIDs: l.DiffIDs, Renamed: l.Renamed}
		if images[i].Index != nil {
			out[i].Digest = l.ID // the index as the source holds it, the image's ID
		}
		if l.Platform != nil {
			out[i].Platform, out[i].Platforms = l.Platform, []string{platform.String(l.Platform)}
		}
	}
	return out, nil
}
