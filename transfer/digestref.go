package transfer

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// recordPushed records what a push of store images wrote as dockerd's
// push does (addDigestReference): repo@<manifest digest> points at the
// pushed image in repositories.json, so inspect's RepoDigests and
// images --digests show it. An existing digest reference to another image
// is left as it is, as dockerd leaves it.
func recordPushed(st store.Store, written []Written) error {
	return withWriter(st, func() error {
		var sets []store.TagSet
		for _, w := range written {
			if w.ID == (v1.Hash{}) || w.Digest == (v1.Hash{}) || len(w.Tags) == 0 {
				continue // an index pushed whole has no image ID to point at
			}
			r, err := reference.Parse(w.Tags[0])
			if err != nil {
				return err
			}
			d := r.Context().Digest(w.Digest.String())
			if id, err := st.Refs().Resolve(reference.Familiar(d)); err == nil && id != w.ID {
				continue
			}
			sets = append(sets, store.TagSet{ID: w.ID, Refs: []name.Reference{d}})
		}
		if len(sets) == 0 {
			return nil
		}
		_, err := st.Refs().SetMany(sets, false)
		return err
	})
}
