package containerd

import (
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
