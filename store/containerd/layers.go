package containerd

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/store"
)

// layers is the layer view of the containerd store: the chains of its
// images' configs. containerd has no layer store of its own until it
// unpacks into a snapshotter, which imgtool does not read.
type layers struct{ s *Store }

// chains maps every chain ID of every resolvable image to its record.
func (l layers) chains() map[v1.Hash]*store.Layer {
	out := map[v1.Hash]*store.Layer{}
	all, err := l.s.targets()
	if err != nil {
		return out
	}
	for _, recs := range all {
		r, err := l.s.resolve(recs[0].Target)
		if err != nil {
			continue
		}
		for _, rec := range r.layerRecords() {
			out[rec.ChainID] = rec
		}
	}
	return out
}

func (l layers) Has(chain v1.Hash) bool { return l.chains()[chain] != nil }

func (l layers) Get(chain v1.Hash) (*store.Layer, error) {
	if rec := l.chains()[chain]; rec != nil {
		return rec, nil
	}
	return nil, store.Errorf(store.ErrNotFound, "layer %s: not in any image of the containerd store", chain)
}

func (l layers) Chain(top v1.Hash) ([]*store.Layer, error) {
	all := l.chains()
	var out []*store.Layer
	for h := top; h != (v1.Hash{}); {
		rec := all[h]
		if rec == nil {
			return nil, store.Errorf(store.ErrNotFound, "layer %s: not in any image of the containerd store", h)
		}
		out = append([]*store.Layer{rec}, out...)
		h = rec.Parent
	}
	return out, nil
}

// Check verifies that every image record resolves and that every blob its
// manifest names is in the content store with its size (Deep: its digest).
func (s *Store) Check(opts store.CheckOptions) (*store.CheckReport, error) {
	all, err := s.targets()
	if err != nil {
		return nil, err
	}
	rep := &store.CheckReport{}
	bad := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, store.NewProblem(store.Corrupt, nil, fmt.Sprintf(format, args...)))
	}
	for dgst, recs := range all {
		r, err := s.resolve(recs[0].Target)
		if err != nil {
			bad("image %s (%s): %v", dgst, recs[0].Name, err)
			continue
		}
		for _, d := range append([]v1.Descriptor{r.parsed.Config}, r.parsed.Layers...) {
			p, _ := s.blobPath(d.Digest.String())
			fi, err := os.Stat(p)
			switch {
			case err != nil:
				bad("image %s: blob %s is missing from the content store", dgst, d.Digest)
			case fi.Size() != d.Size:
				bad("image %s: blob %s has %d bytes, the manifest says %d", dgst, d.Digest, fi.Size(), d.Size)
			case opts.Deep:
				if err := s.verifyBlob(d.Digest.String()); err != nil {
					bad("image %s: %v", dgst, err)
				}
			}
		}
	}
	return rep, nil
}
