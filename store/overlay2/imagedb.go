package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// nowRFC3339Nano is Docker's lastUpdated format: local time, RFC3339Nano.
func nowRFC3339Nano() string { return time.Now().Format(time.RFC3339Nano) }

// rawConfig returns an image's config bytes, verified against the ID as
// the daemon does on every read.
func (s *Store) rawConfig(id v1.Hash) ([]byte, error) {
	b, err := os.ReadFile(s.contentPath(id.Hex))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, store.Errorf(store.ErrNotFound, "no such image: %s", id)
		}
		return nil, err
	}
	if got := imageid.FromBytes(b); got != id {
		return nil, fmt.Errorf("image %s: failed to verify: config hashes to %s", id, got)
	}
	return b, nil
}

// imageIDs lists every image in imagedb.
func (s *Store) imageIDs() ([]v1.Hash, error) {
	entries, err := os.ReadDir(filepath.Join(s.imageDir(), "imagedb", "content", "sha256"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []v1.Hash
	for _, e := range entries {
		if len(e.Name()) != 64 || strings.HasPrefix(e.Name(), ".") {
			continue // temp files of interrupted writes
		}
		ids = append(ids, v1.Hash{Algorithm: "sha256", Hex: e.Name()})
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Hex < ids[j].Hex })
	return ids, nil
}

// putConfig stores config bytes verbatim under their sha256.
func (s *Store) putConfig(config []byte) (v1.Hash, error) {
	id := imageid.FromBytes(config)
	path := s.contentPath(id.Hex)
	if _, err := os.Stat(path); err == nil {
		return id, nil
	}
	return id, s.writeFileAtomic(path, config, 0o600)
}

// metadata reads imagedb/metadata/sha256/<id>/<key>; "" if absent.
func (s *Store) metadata(id v1.Hash, key string) string {
	b, _ := os.ReadFile(filepath.Join(s.metadataDir(id.Hex), key))
	return strings.TrimSpace(string(b))
}

func (s *Store) writeMetadata(id v1.Hash, key string, value []byte) error {
	dir := s.metadataDir(id.Hex)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return s.writeFileAtomic(filepath.Join(dir, key), value, 0o600)
}
