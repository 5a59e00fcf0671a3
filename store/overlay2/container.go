package overlay2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/store"
)

// containerFile is the part of config.v2.json imgtool reads.
type containerFile struct {
	ID      string
	Name    string
	Image   string
	Created time.Time
	Path    string
	Args    []string
	Config  json.RawMessage
	State   struct {
		Running           bool
		Paused            bool
		Restarting        bool
		Dead              bool
		RemovalInProgress bool
		ExitCode          int
		StartedAt         time.Time
		FinishedAt        time.Time
	}
}

func (s *Store) containersDir() string { return filepath.Join(s.root, "containers") }
func (s *Store) mountsDir() string     { return filepath.Join(s.layerDBDir(), "mounts") }

// Containers lists every container, newest first.
func (s *Store) listContainers() ([]*store.Container, error) {
	entries, err := os.ReadDir(s.containersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*store.Container
	for _, e := range entries {
		if !validCacheID(e.Name()) || strings.HasSuffix(e.Name(), "-init") {
			continue
		}
		c, err := s.readContainer(e.Name())
		if err != nil {
			continue // a half-created or foreign entry; check reports it
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func (s *Store) readContainer(id string) (*store.Container, error) {
	b, err := os.ReadFile(filepath.Join(s.containersDir(), id, "config.v2.json"))
	if err != nil {
		return nil, err
	}
	var cf containerFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("container %s: config.v2.json: %w", id, err)
	}
	c := &store.Container{ID: cf.ID, Name: cf.Name, Created: cf.Created, Config: cf.Config, Path: cf.Path, Args: cf.Args, Running: cf.State.Running}
	c.Status = status(cf)
	if c.ID != id {
		return nil, fmt.Errorf("container %s: config.v2.json names ID %q", id, cf.ID)
	}
	if cf.Image != "" {
		if c.Image, err = v1.NewHash(cf.Image); err != nil {
			return nil, fmt.Errorf("container %s: Image: %w", id, err)
		}
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

func status(cf containerFile) string {
	switch {
	case cf.State.Running && cf.State.Paused:
		return "Up (Paused)"
	case cf.State.Running:
		return "Up"
	case cf.State.Dead:
		return "Dead"
	case cf.State.StartedAt.IsZero() || cf.State.StartedAt.Year() <= 1:
		return "Created"
	}
	return fmt.Sprintf("Exited (%d)", cf.State.ExitCode)
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
	for _, c := range all {
		if c.ID == ref {
			return c, nil
		}
	}
	for _, c := range all {
		if c.Name == ref || c.Name == "/"+ref {
			return c, nil
		}
	}
	var found []*store.Container
	for _, c := range all {
		if strings.HasPrefix(c.ID, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, store.Errorf(store.ErrNotFound, "No such container: %s", ref)
	case 1:
		return found[0], nil
	}
	return nil, store.Errorf(store.ErrAmbiguous, "multiple IDs found with provided prefix: %s", ref)
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
