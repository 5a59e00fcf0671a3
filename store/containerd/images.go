package containerd

import (
	"slices"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

type images struct{ s *Store }

// targets groups the namespace's records by target digest.
func (s *Store) targets() (map[string][]imageRecord, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	out := map[string][]imageRecord{}
	for _, rec := range recs {
		out[rec.Target.Digest] = append(out[rec.Target.Digest], rec)
	}
	return out, nil
}

func (s *Store) resolveID(id v1.Hash) (*resolved, []imageRecord, error) {
	all, err := s.targets()
	if err != nil {
		return nil, nil, err
	}
	recs, ok := all[id.String()]
	if !ok {
		return nil, nil, store.Errorf(store.ErrNotFound, "No such image: %s", id)
	}
	r, err := s.resolve(recs[0].Target)
	return r, recs, err
}

func (im images) IDs() ([]v1.Hash, error) {
	all, err := im.s.targets()
	if err != nil {
		return nil, err
	}
	var out []v1.Hash
	for d := range all {
		if h, err := v1.NewHash(d); err == nil {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hex < out[j].Hex })
	return out, nil
}

func (im images) Get(id v1.Hash) (store.Image, error) {
	r, _, err := im.s.resolveID(id)
	if err != nil {
		return nil, err
	}
	return im.s.newImage(r)
}

func (im images) Config(id v1.Hash) ([]byte, error) {
	r, _, err := im.s.resolveID(id)
	if err != nil {
		return nil, err
	}
	return r.config, nil
}

// Metadata: containerd keeps no imagedb metadata (parent, lastUpdated).
func (im images) Metadata(v1.Hash, string) string { return "" }
func (im images) Parent(v1.Hash) v1.Hash          { return v1.Hash{} }

func (im images) Info(id v1.Hash) (*store.Info, error) {
	r, recs, err := im.s.resolveID(id)
	if err != nil {
		return nil, err
	}
	return r.info(namesOf(recs, r.id))
}

// namesOf is an image's tags and, as Docker 29 shows them for the
// containerd store, a repo@<target digest> for every name (its
// RepoDigests): the store keeps the manifest a registry would serve.
func namesOf(recs []imageRecord, target v1.Hash) []string {
	names := tagsOf(recs)
	for _, rec := range recs {
		f, ok := familiar(rec.Name)
		if !ok {
			continue
		}
		ref, err := reference.Parse(f)
		if err != nil {
			continue
		}
		if _, digested := ref.(name.Digest); digested {
			continue // already a digest reference
		}
		if d := reference.FamiliarName(ref) + "@" + target.String(); !slices.Contains(names, d) {
			names = append(names, d)
		}
	}
	return names
}

func tagsOf(recs []imageRecord) []string {
	var tags []string
	for _, rec := range recs {
		if f, ok := familiar(rec.Name); ok {
			tags = append(tags, f)
		}
	}
	sort.Strings(tags)
	return tags
}

// List returns every image whose target resolves, newest first; an image
// whose content is missing for this platform is left out, as Docker 29
// leaves it out of docker images.
func (im images) List() ([]*store.Info, error) {
	all, err := im.s.targets()
	if err != nil {
		return nil, err
	}
	var out []*store.Info
	for _, recs := range all {
		r, err := im.s.resolve(recs[0].Target)
		if err != nil {
			continue
		}
		in, err := r.info(namesOf(recs, r.id))
		if err != nil {
			continue
		}
		out = append(out, in)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID.Hex < out[j].ID.Hex
	})
	return out, nil
}

// Remove is docker rmi on the containerd store: a name drops that image
// record; an ID drops every record of the target (forced when it has
// several names). The blobs stay until containerd's collector runs.
func (im images) Remove(arg string, force bool) ([]string, error) {
	id, err := refs(im).Resolve(arg)
	if err != nil {
		return nil, err
	}
	all, err := im.s.targets()
	if err != nil {
		return nil, err
	}
	recs := all[id.String()]
	var drop []imageRecord
	if r, err := reference.Parse(arg); err == nil && !looksLikeID(arg, id) {
		for _, rec := range recs {
			if f, ok := familiar(rec.Name); ok && f == reference.Familiar(r) {
				drop = append(drop, rec)
			}
		}
	}
	if len(drop) == 0 {
		if len(tagsOf(recs)) > 1 && !force {
			return nil, store.Errorf(store.ErrConflict, "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", id.Hex[:12])
		}
		drop = recs
	}
	var out []string
	err = im.s.update(func(tx *bolt.Tx) error {
		for _, rec := range drop {
			if err := deleteImage(tx, im.s.ns(), rec.Name); err != nil {
				return err
			}
			if f, ok := familiar(rec.Name); ok {
				out = append(out, "Untagged: "+f)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(drop) == len(recs) {
		out = append(out, "Deleted: "+id.String())
	}
	return out, nil
}

func looksLikeID(arg string, id v1.Hash) bool {
	return arg == id.String() || hexPrefix.MatchString(arg) && len(arg) <= 64 && id.Hex[:len(arg)] == arg
}
