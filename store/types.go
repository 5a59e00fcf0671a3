package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The records the sub-stores hand out. They are Docker's, not a
// backend's: a containerd backend fills the same fields.

// MaxLayerDepth is Docker's limit on a layer chain (layer_store.go).
const MaxLayerDepth = 125

// Layer is one registered layer: a layerdb/sha256/<chainID> entry and the
// overlay2 directory its cache-id names.
type Layer struct {
	ChainID v1.Hash
	DiffID  v1.Hash
	Parent  v1.Hash // zero for a base layer
	Size    int64   // Docker's size: the layer's own bytes on disk
	CacheID string
}

// Container is a container as Docker keeps it: containers/<id>/config.v2.json
// for its metadata, layerdb/mounts/<id>/ for its layers, and the overlay2
// dirs <mount-id>-init (Docker's init files) and <mount-id> (read-write).
type Container struct {
	ID      string
	Name    string // with Docker's leading "/"
	Image   v1.Hash
	Created time.Time
	Config  json.RawMessage // the container's container.Config
	Path    string
	Args    []string
	Running bool
	Status  string // docker ps STATUS, as far as the files tell it

	MountID string
	InitID  string
	Parent  v1.Hash // chain ID of the image's top layer (zero for scratch)
}

// Tag is one entry of the reference store.
type Tag struct {
	Ref     string  // familiar form: "bb:1", "app@sha256:…"
	ImageID v1.Hash // the image it names
}

// RefsOf picks the references of tags that name image id, in their order.
func RefsOf(tags []Tag, id v1.Hash) []string {
	var out []string
	for _, t := range tags {
		if t.ImageID == id {
			out = append(out, t.Ref)
		}
	}
	return out
}

// TagResult says what a tag change did, for Docker's messages.
type TagResult struct {
	Ref      string
	Previous v1.Hash // the image the reference named before, if another
}

// TagSet is the references to point at one image (RefStore.SetMany).
type TagSet struct {
	ID   v1.Hash
	Refs []name.Reference
}

// Info is what images, inspect and history show of an image.
type Info struct {
	ID          v1.Hash
	Tags        []string // familiar references, sorted
	Created     time.Time
	Size        int64 // sum of the chain's layer sizes, as docker images shows
	Config      []byte
	Layers      []*Layer // base first
	Parent      string   // imagedb parent ("" if none)
	LastTagTime string
}

// CreateOptions say what container to create.
type CreateOptions struct {
	Name   string   // without "/"; empty picks a random adjective_surname
	Cmd    []string // overrides the image's Cmd when set
	Config json.RawMessage
}

// imageConfig holds the config fields the store checks, as Docker does.
type imageConfig struct {
	OS     string `json:"os"`
	RootFS *struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		EmptyLayer bool `json:"empty_layer"`
	} `json:"history"`
}

// ParseConfig checks a config the way docker load does and returns its diff IDs.
func ParseConfig(config []byte) ([]v1.Hash, error) {
	var c imageConfig
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("invalid image JSON: %w", err)
	}
	if c.RootFS == nil {
		return nil, errors.New("invalid image JSON, no RootFS key")
	}
	if c.OS != "" && c.OS != "linux" {
		return nil, fmt.Errorf("cannot load %s image on linux", c.OS)
	}
	if len(c.RootFS.DiffIDs) > MaxLayerDepth {
		return nil, fmt.Errorf("image has %d layers: max depth exceeded (%d)", len(c.RootFS.DiffIDs), MaxLayerDepth)
	}
	nonEmpty := 0
	for _, h := range c.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty > len(c.RootFS.DiffIDs) {
		return nil, errors.New("too many non-empty layers in History section")
	}
	out := make([]v1.Hash, len(c.RootFS.DiffIDs))
	for i, d := range c.RootFS.DiffIDs {
		h, err := v1.NewHash(d)
		if err != nil {
			return nil, fmt.Errorf("config rootfs.diff_ids[%d]: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}
