package overlay2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// tagFile is Docker's reference store, repositories.json:
// {"Repositories":{"<familiar repo>":{"<familiar ref>":"sha256:<image id>"}}}.
type tagFile struct {
	Repositories map[string]map[string]string
}

func (s *Store) tagsPath() string { return filepath.Join(s.imageDir(), "repositories.json") }

func (s *Store) readTags() (*tagFile, error) {
	tf := &tagFile{Repositories: map[string]map[string]string{}}
	b, err := os.ReadFile(s.tagsPath())
	if errors.Is(err, os.ErrNotExist) {
		return tf, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, tf); err != nil {
		return nil, fmt.Errorf("%s: %w", s.tagsPath(), err)
	}
	if tf.Repositories == nil {
		tf.Repositories = map[string]map[string]string{}
	}
	return tf, nil
}

func (s *Store) writeTags(tf *tagFile) error {
	b, err := json.Marshal(tf)
	if err != nil {
		return err
	}
	return s.writeFileAtomic(s.tagsPath(), b, 0o600)
}

// tags lists every reference, sorted.
func (s *Store) tags() ([]store.Tag, error) {
	tf, err := s.readTags()
	if err != nil {
		return nil, err
	}
	var out []store.Tag
	for _, refs := range tf.Repositories {
		for ref, id := range refs {
			h, err := v1.NewHash(id)
			if err != nil {
				return nil, fmt.Errorf("repositories.json: %s: %w", ref, err)
			}
			out = append(out, store.Tag{Ref: ref, ImageID: h})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// tagsOf lists the references that name image id.
func (s *Store) tagsOf(id v1.Hash) ([]string, error) {
	all, err := s.tags()
	if err != nil {
		return nil, err
	}
	return store.RefsOf(all, id), nil
}

// setTags points refs at id in one atomic rewrite of repositories.json and
// records lastUpdated for the image, as Docker's tag operations do.
// setManyTags points each set's references at its image with one read and
// one write of repositories.json, so a load of N images costs one write,
// not N (each an fsync and a rename of the whole file).
func (s *Store) setManyTags(sets []store.TagSet, lastUpdated bool) ([][]store.TagResult, error) {
	out := make([][]store.TagResult, len(sets))
	total := 0
	for _, set := range sets {
		total += len(set.Refs)
	}
	if total == 0 {
		return out, nil
	}
	tf, err := s.readTags()
	if err != nil {
		return nil, err
	}
	for i, set := range sets {
		for _, r := range set.Refs {
			repo, ref := reference.FamiliarName(r), reference.Familiar(r)
			if tf.Repositories[repo] == nil {
				tf.Repositories[repo] = map[string]string{}
			}
			tr := store.TagResult{Ref: ref}
			if old, ok := tf.Repositories[repo][ref]; ok && old != set.ID.String() {
				tr.Previous, _ = v1.NewHash(old)
			}
			tf.Repositories[repo][ref] = set.ID.String()
			out[i] = append(out[i], tr)
		}
	}
	if err := s.writeTags(tf); err != nil {
		return nil, err
	}
	if lastUpdated {
		for _, set := range sets {
			if len(set.Refs) == 0 {
				continue
			}
			if err := s.writeMetadata(set.ID, "lastUpdated", []byte(nowRFC3339Nano())); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// removeTag deletes one familiar reference; it reports whether it existed.
func (s *Store) removeTag(ref string) (bool, error) {
	tf, err := s.readTags()
	if err != nil {
		return false, err
	}
	for repo, refs := range tf.Repositories {
		if _, ok := refs[ref]; ok {
			delete(refs, ref)
			if len(refs) == 0 {
				delete(tf.Repositories, repo)
			}
			return true, s.writeTags(tf)
		}
	}
	return false, nil
}
