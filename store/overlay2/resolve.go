package overlay2

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

var hexPrefix = regexp.MustCompile(`^[a-f0-9]{1,64}$`)

// resolve finds the image a user names, in Docker's order: a full ID
// (sha256:… or 64 hex), a tag or digest reference, then a unique ID prefix.
func (s *Store) resolve(ref string) (v1.Hash, error) {
	idPart := strings.TrimPrefix(ref, "sha256:")
	if strings.HasPrefix(ref, "sha256:") || len(ref) == 64 && hexPrefix.MatchString(ref) {
		if !hexPrefix.MatchString(idPart) {
			return v1.Hash{}, fmt.Errorf("invalid image ID %q", ref)
		}
		return s.searchID(ref, idPart)
	}
	if r, err := reference.Parse(ref); err == nil {
		if id, ok, err := s.lookupRef(r); err != nil || ok {
			return id, err
		}
	} else if !hexPrefix.MatchString(ref) {
		return v1.Hash{}, err
	}
	if hexPrefix.MatchString(ref) {
		return s.searchID(ref, ref)
	}
	return v1.Hash{}, store.Errorf(store.ErrNotFound, "No such image: %s", ref)
}

func (s *Store) lookupRef(r name.Reference) (v1.Hash, bool, error) {
	idx, err := s.tagIndex()
	if err != nil {
		return v1.Hash{}, false, err
	}
	id, ok := idx.file.Repositories[reference.FamiliarName(r)][reference.Familiar(r)]
	if !ok {
		return v1.Hash{}, false, nil
	}
	h, err := v1.NewHash(id)
	return h, err == nil, err
}

func (s *Store) searchID(ref, prefix string) (v1.Hash, error) {
	ids, err := s.imageIDs()
	if err != nil {
		return v1.Hash{}, err
	}
	var found []v1.Hash
	for _, id := range ids {
		if strings.HasPrefix(id.Hex, prefix) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return v1.Hash{}, store.Errorf(store.ErrNotFound, "No such image: %s", ref)
	case 1:
		return found[0], nil
	}
	return v1.Hash{}, store.Errorf(store.ErrAmbiguous, "ambiguous image ID prefix %q matches %d images", ref, len(found))
}

// tag points ref at the image src names (docker tag).
