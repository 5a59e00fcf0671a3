package containerd

import (
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// Image names: containerd keeps fully qualified references
// (docker.io/library/busybox:latest); Docker 29 shows them familiar
// (busybox:latest) and keeps an untagged image alive under
// moby-dangling@<digest>, a name it never shows.
const danglingPrefix = "moby-dangling@"

var hexPrefix = regexp.MustCompile(`^[a-f0-9]{1,64}$`)

type refs struct{ s *Store }

// records reads the namespace's image records.
func (s *Store) records() ([]imageRecord, error) {
	var recs []imageRecord
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		recs, err = readImages(tx, s.ns())
		return err
	})
	return recs, err
}

func (r refs) Tags() ([]store.Tag, error) {
	recs, err := r.s.records()
	if err != nil {
		return nil, err
	}
	var out []store.Tag
	for _, rec := range recs {
		f, ok := familiar(rec.Name)
		id, err := v1.NewHash(rec.Target.Digest)
		if ok && err == nil {
			out = append(out, store.Tag{Ref: f, ImageID: id})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

func (r refs) TagsOf(id v1.Hash) ([]string, error) {
	all, err := r.Tags()
	if err != nil {
		return nil, err
	}
	return store.RefsOf(all, id), nil
}

// Resolve finds an image as Docker 29 does: a full ID (the target
// digest), a reference, a unique ID prefix.
func (r refs) Resolve(arg string) (v1.Hash, error) {
	recs, err := r.s.records()
	if err != nil {
		return v1.Hash{}, err
	}
	idPart := strings.TrimPrefix(arg, "sha256:")
	isID := strings.HasPrefix(arg, "sha256:") || len(arg) == 64 && hexPrefix.MatchString(arg)
	if !isID {
		ref, err := reference.Parse(arg)
		if err != nil && !hexPrefix.MatchString(arg) {
			return v1.Hash{}, err
		}
		if err == nil {
			full := reference.FullyQualified(ref)
			for _, rec := range recs {
				if rec.Name == full {
					return v1.NewHash(rec.Target.Digest)
				}
			}
		}
	}
	if !hexPrefix.MatchString(idPart) {
		return v1.Hash{}, store.Errorf(store.ErrNotFound, "No such image: %s", arg)
	}
	found := map[string]bool{}
	for _, rec := range recs {
		if h, err := v1.NewHash(rec.Target.Digest); err == nil && strings.HasPrefix(h.Hex, idPart) {
			found[rec.Target.Digest] = true
		}
	}
	switch len(found) {
	case 0:
		return v1.Hash{}, store.Errorf(store.ErrNotFound, "No such image: %s", arg)
	case 1:
		for d := range found {
			return v1.NewHash(d)
		}
	}
	return v1.Hash{}, store.Errorf(store.ErrAmbiguous, "ambiguous image ID prefix %q matches %d images", arg, len(found))
}

// SetMany writes an image record per reference, in one bolt transaction,
// with the target of an image record that already names the ID; an image
// given a name loses its moby-dangling@ record.
func (r refs) SetMany(sets []store.TagSet, _ bool) ([][]store.TagResult, error) {
	out := make([][]store.TagResult, len(sets))
	now := time.Now().UTC()
	err := r.s.update(func(tx *bolt.Tx) error {
		recs, err := readImages(tx, r.s.ns())
		if err != nil {
			return err
		}
		byName, byTarget, moved := map[string]imageRecord{}, map[string]imageRecord{}, map[string]imageRecord{}
		for _, rec := range recs {
			byName[rec.Name] = rec
			byTarget[rec.Target.Digest] = rec
		}
		for i, set := range sets {
			target, ok := byTarget[set.ID.String()]
			if !ok {
				return store.Errorf(store.ErrNotFound, "No such image: %s", set.ID)
			}
			for _, ref := range set.Refs {
				full := reference.FullyQualified(ref)
				tr := store.TagResult{Ref: reference.Familiar(ref)}
				rec := imageRecord{Name: full, Target: target.Target, Created: now, Updated: now, Labels: target.Labels}
				if old, ok := byName[full]; ok {
					rec.Created = old.Created
					if old.Target.Digest != set.ID.String() {
						tr.Previous, _ = v1.NewHash(old.Target.Digest)
						moved[old.Target.Digest] = old
					}
				}
				if err := writeImage(tx, r.s.ns(), rec); err != nil {
					return err
				}
				byName[full] = rec
				out[i] = append(out[i], tr)
			}
			if len(set.Refs) > 0 {
				if err := deleteImage(tx, r.s.ns(), danglingPrefix+set.ID.String()); err != nil {
					return err
				}
			}
		}
		return keepDangling(tx, r.s.ns(), byName, moved, now)
	})
	return out, err
}

// keepDangling gives each moved-away target left without a name a
// moby-dangling@ record, as Docker 29 does, so that it is not collected.
func keepDangling(tx *bolt.Tx, ns string, byName map[string]imageRecord, moved map[string]imageRecord, now time.Time) error {
	for dgst, old := range moved {
		named := false
		for _, rec := range byName {
			named = named || rec.Target.Digest == dgst
		}
		if named {
			continue
		}
		rec := imageRecord{Name: danglingPrefix + dgst, Target: old.Target, Created: now, Updated: now, Labels: old.Labels}
		if err := writeImage(tx, ns, rec); err != nil {
			return err
		}
	}
	return nil
}

func (r refs) Remove(arg string) (bool, error) {
	ref, err := reference.Parse(arg)
	if err != nil {
		return false, err
	}
	full := reference.FullyQualified(ref)
	found := false
	err = r.s.update(func(tx *bolt.Tx) error {
		if b := nsBucket(tx, r.s.ns(), keyImages); b != nil && b.Bucket([]byte(full)) != nil {
			found = true
			return deleteImage(tx, r.s.ns(), full)
		}
		return nil
	})
	return found, err
}
