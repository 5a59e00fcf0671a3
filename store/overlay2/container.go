package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/store"
)

func (s *Store) containersDir() string { return filepath.Join(s.root, "containers") }
func (s *Store) mountsDir() string     { return filepath.Join(s.layerDBDir(), "mounts") }

// Containers lists every container, newest first.
func (s *Store) listContainers() ([]*store.Container, error) {
	return store.ListContainers(s.containersDir(), func(id string) *store.Container {
		if !validCacheID(id) || strings.HasSuffix(id, "-init") {
			return nil
		}
		c, err := s.readContainer(id)
		if err != nil {
			return nil // a half-created or foreign entry; check reports it
		}
		return c
	})
}

func (s *Store) readContainer(id string) (*store.Container, error) {
	c, _, err := store.ReadContainerFile(s.containersDir(), id)
	if err != nil {
		return nil, err
	}
	md := filepath.Join(s.mountsDir(), id)
	read := func(k string) string {
		b, _ := os.ReadFile(filepath.Join(md, k))
		return strings.TrimSpace(string(b))
	}
	c.MountID, c.InitID = read("mount-id"), read("init-id")
	if !validCacheID(c.MountID) || c.InitID != "" && !validCacheID(c.InitID) {
		return nil, fmt.Errorf("container %s: bad or missing layerdb/mounts entry", id)
	}
	if p := read("parent"); p != "" {
		if c.Parent, err = v1.NewHash(p); err != nil {
			return nil, fmt.Errorf("container %s: mounts parent: %w", id, err)
		}
	}
	return c, nil
}

// findContainer looks a container up as Docker does: full ID, then name
// (with or without its leading "/"), then a unique ID prefix.
func (s *Store) findContainer(ref string) (*store.Container, error) {
	if ref == "" {
		return nil, errors.New("no container named")
	}
	all, err := s.listContainers()
	if err != nil {
		return nil, err
	}
	return store.FindContainer(all, ref)
}

// rwDir is the container's read-write layer (upper) directory.
func (s *Store) rwDir(c *store.Container) (string, error) { return s.diffDir(c.MountID) }

// containerLayerDirs lists the diff dirs of the container's merged view,
// bottom first: the image's layers, the init layer, the read-write layer.
func (s *Store) containerLayerDirs(c *store.Container) ([]string, error) {
	var dirs []string
	if c.Parent != (v1.Hash{}) {
		chain, err := s.chain(c.Parent)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.ID[:12], err)
		}
		if dirs, err = s.layerDiffDirs(chain); err != nil {
			return nil, fmt.Errorf("container %s: %w", c.ID[:12], err)
		}
	}
	ids := []string{c.MountID}
	if c.InitID != "" {
		ids = []string{c.InitID, c.MountID}
	}
	for _, id := range ids {
		d, err := s.diffDir(id)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.ID[:12], err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}
