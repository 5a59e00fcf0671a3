package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/store"
)

// hasLayer reports whether a chain ID is registered.
func (s *Store) hasLayer(chain v1.Hash) bool {
	_, err := os.Stat(filepath.Join(s.layerPath(chain.Hex), "diff"))
	return err == nil
}

// layer reads a layerdb entry.
func (s *Store) layer(chain v1.Hash) (*store.Layer, error) {
	dir := s.layerPath(chain.Hex)
	read := func(key string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, key))
		return strings.TrimSpace(string(b)), err
	}
	l := &store.Layer{ChainID: chain}
	diff, err := read("diff")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, store.Errorf(store.ErrNotFound, "layer %s does not exist", chain)
		}
		return nil, err
	}
	if l.DiffID, err = v1.NewHash(diff); err != nil {
		return nil, fmt.Errorf("layer %s: diff: %w", chain, err)
	}
	if l.CacheID, err = read("cache-id"); err != nil || !validCacheID(l.CacheID) {
		return nil, fmt.Errorf("layer %s: bad or missing cache-id", chain)
	}
	size, err := read("size")
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", chain, err)
	}
	if l.Size, err = strconv.ParseInt(size, 10, 64); err != nil {
		return nil, fmt.Errorf("layer %s: size: %w", chain, err)
	}
	if p, err := read("parent"); err == nil && p != "" {
		if l.Parent, err = v1.NewHash(p); err != nil {
			return nil, fmt.Errorf("layer %s: parent: %w", chain, err)
		}
	}
	return l, nil
}

// tarSplitPath is the layer's tar-split.json.gz.
func (s *Store) tarSplitPath(chain v1.Hash) string {
	return filepath.Join(s.layerPath(chain.Hex), "tar-split.json.gz")
}

// diffPath is an overlay2 layer's content directory, unchecked: for dirs
// this process has just created. Everything else uses DiffDir.
func (s *Store) diffPath(cacheID string) string {
	return filepath.Join(s.overlayDir(), cacheID, "diff")
}

// lowerDirs lists the diff dirs below and including cacheID, top first,
// as GraphDriver.Data shows them.
func (s *Store) lowerDirs(cacheID string) []string {
	lower, err := s.lowerOf(cacheID)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(lower, ":") {
		if l == "" {
			continue
		}
		id, err := s.linkTarget(strings.TrimPrefix(l, "l/"))
		if err != nil {
			continue
		}
		out = append(out, s.diffPath(id))
	}
	return out
}

// chain returns the layers of a chain, base first.
func (s *Store) chain(top v1.Hash) ([]*store.Layer, error) {
	var out []*store.Layer
	for c := top; c != (v1.Hash{}); {
		l, err := s.layer(c)
		if err != nil {
			return nil, err
		}
		out = append([]*store.Layer{l}, out...)
		c = l.Parent
		if len(out) > store.MaxLayerDepth+1 {
			return nil, fmt.Errorf("layer %s: parent chain loops", top)
		}
	}
	return out, nil
}
