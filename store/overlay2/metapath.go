package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/imgtool/imgtool/store"
)

// This file is the one place where names read from the store's own
// metadata files become paths. A data root is input like any archive: a
// cache-id, mount-id or init-id, an overlay2 link or lower file, or an l/
// symlink that names something outside the store must never make a reader
// look there or a writer (rm, rmi, check --repair) delete there. Every such
// name is checked here before it is joined into a path; a bad one is an
// error naming the file, never a path.

// errBadMetadata is what every check below wraps.
var errBadMetadata = errors.New("bad store metadata")

// validCacheID reports whether id is one of Docker's layer/container IDs:
// 64 lower-case hex digits, optionally followed by "-init".
func validCacheID(id string) bool {
	return isHex64(strings.TrimSuffix(id, "-init"))
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validLink reports whether name is an overlay2 l/ link name as Docker's
// overlayutils.GenerateID(26) makes it: 26 characters of base32.
func validLink(name string) bool {
	if len(name) != 26 {
		return false
	}
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// linkOf reads overlay2/<cacheID>/link: the 26-character name of the dir's
// l/ symlink.
func (s *Store) linkOf(cacheID string) (string, error) {
	if !validCacheID(cacheID) {
		return "", fmt.Errorf("%w: cache-id %q", errBadMetadata, cacheID)
	}
	p := filepath.Join(s.overlayDir(), cacheID, "link")
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	link := strings.TrimSpace(string(b))
	if !validLink(link) {
		return "", fmt.Errorf("%w: %s: %q is not an overlay2 link name", errBadMetadata, p, link)
	}
	return link, nil
}

// lowerOf reads overlay2/<cacheID>/lower, the chain of l/ links below the
// dir ("" for a base layer), and checks that every element is "l/<link>".
func (s *Store) lowerOf(cacheID string) (string, error) {
	if !validCacheID(cacheID) {
		return "", fmt.Errorf("%w: cache-id %q", errBadMetadata, cacheID)
	}
	p := filepath.Join(s.overlayDir(), cacheID, "lower")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	lower := strings.TrimSpace(string(b))
	if lower == "" {
		return "", nil
	}
	for _, l := range strings.Split(lower, ":") {
		if name, ok := strings.CutPrefix(l, "l/"); !ok || !validLink(name) {
			return "", fmt.Errorf("%w: %s: %q is not an l/ link", errBadMetadata, p, l)
		}
	}
	return lower, nil
}

// linkTarget reads the l/<link> symlink and returns the cache-id it points
// at; Docker writes every one as "../<cache-id>/diff".
func (s *Store) linkTarget(link string) (string, error) {
	if !validLink(link) {
		return "", fmt.Errorf("%w: %q is not an overlay2 link name", errBadMetadata, link)
	}
	p := filepath.Join(s.overlayDir(), "l", link)
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	id, ok := strings.CutPrefix(filepath.Clean(target), "../")
	id, ok2 := strings.CutSuffix(id, "/diff")
	if !ok || !ok2 || !validCacheID(id) {
		return "", fmt.Errorf("%w: %s points at %q, not ../<cache-id>/diff", errBadMetadata, p, target)
	}
	return id, nil
}

// layerDir returns overlay2/<cacheID> after checking that the ID is valid
// and that the dir and its diff are real directories, not symlinks that
// would take a reader or a RemoveAll somewhere else.
func (s *Store) layerDir(cacheID string) (string, error) {
	if !validCacheID(cacheID) {
		return "", fmt.Errorf("%w: cache-id %q", errBadMetadata, cacheID)
	}
	dir := filepath.Join(s.overlayDir(), cacheID)
	for _, p := range []string{dir, filepath.Join(dir, "diff")} {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %s is a %s, not a directory", errBadMetadata, p, typeName(fi.Mode()))
		}
	}
	return dir, nil
}

func typeName(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return m.Type().String()
}

// diffDir returns the diff dir of a layer or container layer that is
// already in the store, after layerDir's checks.
func (s *Store) diffDir(cacheID string) (string, error) {
	dir, err := s.layerDir(cacheID)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "diff"), nil
}

// layerDiffDirs returns the diff dirs of layers, in their order.
func (s *Store) layerDiffDirs(layers []*store.Layer) ([]string, error) {
	dirs := make([]string, len(layers))
	for i, l := range layers {
		d, err := s.diffDir(l.CacheID)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.ChainID, err)
		}
		dirs[i] = d
	}
	return dirs, nil
}
