package overlay2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

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

// readTags reads repositories.json afresh, for a writer to change.
func (s *Store) readTags() (*tagFile, error) {
	b, err := os.ReadFile(s.tagsPath())
	if errors.Is(err, os.ErrNotExist) {
		return &tagFile{Repositories: map[string]map[string]string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseTags(s.tagsPath(), b)
}

func parseTags(path string, b []byte) (*tagFile, error) {
	tf := &tagFile{}
	if err := json.Unmarshal(b, tf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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
	// the next lookup reads the new file, even should it get the old
	// one's inode, size and (coarse) times
	s.tagCache.forget()
	defer s.tagCache.forget()
	return s.writeFileAtomic(s.tagsPath(), b, 0o600)
}

// tags lists every reference, sorted.
func (s *Store) tags() ([]store.Tag, error) {
	idx, err := s.tagIndex()
	if err != nil {
		return nil, err
	}
	if idx.err != nil {
		return nil, idx.err
	}
	return slices.Clone(idx.all), nil
}

// tagsOf lists the references that name image id, sorted.
func (s *Store) tagsOf(id v1.Hash) ([]string, error) {
	idx, err := s.tagIndex()
	if err != nil {
		return nil, err
	}
	if idx.err != nil {
		return nil, idx.err
	}
	return slices.Clone(idx.byID[id]), nil
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
