package store

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
)

// Docker's containers/<id>/config.v2.json is the same file whatever the
// image store: both backends read containers through these helpers.

// containerFile is the part of config.v2.json imgtool reads.
type containerFile struct {
	ID      string
	Name    string
	Image   string
	Created time.Time
	Path    string
	Args    []string
	Config  json.RawMessage
	Driver  string
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

// ReadContainerFile reads containers/<id>/config.v2.json under dir (the
// containers directory) into a Container; driver is the file's Driver
// (the graphdriver, or the containerd snapshotter on Docker 29).
func ReadContainerFile(dir, id string) (c *Container, driver string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, id, "config.v2.json"))
	if err != nil {
		return nil, "", err
	}
	var cf containerFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, "", fmt.Errorf("container %s: config.v2.json: %w", id, err)
	}
	c = &Container{ID: cf.ID, Name: cf.Name, Created: cf.Created, Config: cf.Config, Path: cf.Path, Args: cf.Args, Running: cf.State.Running}
	c.Status = containerStatus(cf)
	if c.ID != id {
		return nil, "", fmt.Errorf("container %s: config.v2.json names ID %q", id, cf.ID)
	}
	if cf.Image != "" {
		if c.Image, err = v1.NewHash(cf.Image); err != nil {
			return nil, "", fmt.Errorf("container %s: Image: %w", id, err)
		}
	}
	return c, cf.Driver, nil
}

func containerStatus(cf containerFile) string {
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

// ListContainers reads every entry of a containers directory with read
// (nil: skipped, a half-created or foreign entry), newest first; a
// missing directory has none.
func ListContainers(dir string, read func(id string) *Container) ([]*Container, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if c := read(e.Name()); c != nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// FindContainer looks a container up as Docker does: full ID, then name
// (with or without its leading "/"), then a unique ID prefix.
func FindContainer(all []*Container, ref string) (*Container, error) {
	if ref == "" {
		return nil, errors.New("no container named")
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
	var found []*Container
	for _, c := range all {
		if strings.HasPrefix(c.ID, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, Errorf(ErrNotFound, "No such container: %s", ref)
	case 1:
		return found[0], nil
	}
	return nil, Errorf(ErrAmbiguous, "multiple IDs found with provided prefix: %s", ref)
}
