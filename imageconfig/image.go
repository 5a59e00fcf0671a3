package imageconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
)

// History is one image history entry, in Docker's field order.
type History struct {
	Created    time.Time `json:"created"`
	Author     string    `json:"author,omitempty"`
	CreatedBy  string    `json:"created_by,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"empty_layer,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids,omitempty"`
}

// imageJSON is Docker 20.10's image.Image (V1Image embedded), the struct an
// image config goes through on import and commit. Marshal it with
// marshalImage only.
type imageJSON struct {
	ID              string           `json:"id,omitempty"`
	Parent          string           `json:"parent,omitempty"`
	Comment         string           `json:"comment,omitempty"`
	Created         time.Time        `json:"created"`
	Container       string           `json:"container,omitempty"`
	ContainerConfig ContainerConfig  `json:"container_config,omitempty"`
	DockerVersion   string           `json:"docker_version,omitempty"`
	Author          string           `json:"author,omitempty"`
	Config          *ContainerConfig `json:"config,omitempty"`
	Architecture    string           `json:"architecture,omitempty"`
	Variant         string           `json:"variant,omitempty"`
	OS              string           `json:"os,omitempty"`
	Size            int64            `json:",omitempty"`

	RootFS     *rootFS   `json:"rootfs,omitempty"`
	History    []History `json:"history,omitempty"`
	OSVersion  string    `json:"os.version,omitempty"`
	OSFeatures []string  `json:"os.features,omitempty"`
}

// marshalImage marshals like Docker's Image.MarshalJSON: struct order
// inside nested objects, top-level keys sorted, HTML escaping on.
func marshalImage(img *imageJSON) ([]byte, error) {
	pass1, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	var top map[string]*json.RawMessage
	if err := json.Unmarshal(pass1, &top); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// ImportOptions describes an `imgtool import` (Docker 20.10 `docker import`).
type ImportOptions struct {
	// DiffID of the imported layer (sha256 of the uncompressed tar).
	DiffID v1.Hash
	// Changes are `--change` Dockerfile lines.
	Changes []string
	// Comment goes to the top-level "comment" and to the history entry.
	// Default "Imported from -".
	Comment string
	// Created is the image creation time (marshaled in UTC).
	Created time.Time
	// Platform: OS (default "linux"), Architecture (default GOARCH),
	// Variant, OSVersion and OSFeatures (written when set).
	Platform v1.Platform
	// DockerVersion is the "docker_version" value (omitted when empty).
	DockerVersion string
	// Base, when set, is the starting config (--config-from); the changes
	// apply on top of a copy of it. Otherwise the start is the zero config.
	Base *ContainerConfig
}

// ImportConfig returns the image config JSON Docker 20.10 writes for
// `docker import`; its sha256 is the image ID. Same options, same bytes.
func ImportConfig(opts ImportOptions) ([]byte, error) {
	if opts.DiffID.Algorithm == "" || opts.DiffID.Hex == "" {
		return nil, errors.New("imageconfig: import needs the layer's diff ID")
	}
	cfg := opts.Base.Clone()
	if cfg == nil {
		cfg = &ContainerConfig{}
	}
	if err := ApplyChanges(cfg, opts.Changes); err != nil {
		return nil, err
	}
	comment := opts.Comment
	if comment == "" {
		comment = "Imported from -"
	}
	p := opts.Platform
	if p.OS == "" {
		p.OS = "linux"
	}
	if p.Architecture == "" {
		p.Architecture = runtime.GOARCH
	}
	created := opts.Created.UTC()
	return marshalImage(&imageJSON{
		Comment:       comment,
		Created:       created,
		DockerVersion: opts.DockerVersion,
		Config:        cfg,
		Architecture:  p.Architecture,
		Variant:       p.Variant,
		OS:            p.OS,
		OSVersion:     p.OSVersion,
		OSFeatures:    p.OSFeatures,
		RootFS:        &rootFS{Type: "layers", DiffIDs: []string{opts.DiffID.String()}},
		History:       []History{{Created: created, Comment: comment}},
	})
}

// CommitOptions describes an `imgtool commit` (Docker 20.10 `docker commit`).
type CommitOptions struct {
	// ParentConfig is the raw config of the container's image (nil when the
	// container has no image). Only architecture, variant, os, os.version,
	// os.features, history and rootfs are taken from it.
	ParentConfig []byte
	// ContainerConfig is the container's config (config.v2.json "Config").
	// It is the starting point for Changes, fills what they leave unset,
	// and is written as "container_config".
	ContainerConfig *ContainerConfig
	// Changes are `--change` Dockerfile lines.
	Changes []string
	// Author (-a) goes to "author" and the history entry.
	Author string
	// Message (-m) goes to the history entry only.
	Message string
	// ContainerID is the full container ID ("container").
	ContainerID string
	// Created is the creation time (marshaled in UTC).
	Created time.Time
	// DiffID of the container's rw-layer diff. The empty tar's diff ID
	// makes an empty_layer history entry and adds no diff ID.
	DiffID v1.Hash
	// DockerVersion is the "docker_version" value (omitted when empty).
	DockerVersion string
	// OS is the "os" value; default the parent's, else "linux".
	OS string
}

// CommitConfig returns the image config JSON Docker 20.10 writes for
// `docker commit`; its sha256 is the image ID.
func CommitConfig(opts CommitOptions) ([]byte, error) {
	if opts.ContainerConfig == nil {
		return nil, errors.New("imageconfig: commit needs the container config")
	}
	if opts.DiffID.Algorithm == "" || opts.DiffID.Hex == "" {
		return nil, errors.New("imageconfig: commit needs the layer's diff ID")
	}
	var parent imageJSON
	if opts.ParentConfig != nil {
		if err := json.Unmarshal(opts.ParentConfig, &parent); err != nil {
			return nil, fmt.Errorf("parsing parent image config: %w", err)
		}
		if parent.RootFS == nil {
			return nil, errors.New("invalid parent image config: no rootfs")
		}
	}

	containerCfg := opts.ContainerConfig.Clone()
	newCfg := containerCfg
	if len(opts.Changes) > 0 {
		// Docker applies changes to a copy; without changes the new
		// config *is* the container config, so merge's effects (Labels
		// nil -> {}) show in both.
		newCfg = containerCfg.Clone()
		if err := ApplyChanges(newCfg, opts.Changes); err != nil {
			return nil, err
		}
	}
	mergeConfig(newCfg, containerCfg)

	rfs := &rootFS{Type: "layers"}
	if parent.RootFS != nil {
		rfs.Type = parent.RootFS.Type
		rfs.DiffIDs = cloneStrings(parent.RootFS.DiffIDs)
	}
	empty := opts.DiffID.String() == imageid.EmptyTarDiffID
	if !empty {
		rfs.DiffIDs = append(rfs.DiffIDs, opts.DiffID.String())
	}
	created := opts.Created.UTC()
	history := append(append([]History(nil), parent.History...), History{
		Created:    created,
		Author:     opts.Author,
		CreatedBy:  strings.Join(containerCfg.Cmd, " "),
		Comment:    opts.Message,
		EmptyLayer: empty,
	})
	arch := parent.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	osName := opts.OS
	if osName == "" {
		osName = parent.OS
	}
	if osName == "" {
		osName = "linux"
	}
	return marshalImage(&imageJSON{
		Created:         created,
		Container:       opts.ContainerID,
		ContainerConfig: *containerCfg,
		DockerVersion:   opts.DockerVersion,
		Author:          opts.Author,
		Config:          newCfg,
		Architecture:    arch,
		Variant:         parent.Variant,
		OS:              osName,
		RootFS:          rfs,
		History:         history,
		OSVersion:       parent.OSVersion,
		OSFeatures:      parent.OSFeatures,
	})
}

// mergeConfig fills what the new config leaves unset from the container's
// config, as Docker's commit does.
func mergeConfig(n, c *ContainerConfig) {
	if n.User == "" {
		n.User = c.User
	}
	if len(n.ExposedPorts) == 0 {
		n.ExposedPorts = cloneSet(c.ExposedPorts)
	} else {
		for p := range c.ExposedPorts {
			n.ExposedPorts[p] = struct{}{}
		}
	}
	if len(n.Env) == 0 {
		n.Env = cloneStrings(c.Env)
	} else {
		for _, ce := range c.Env {
			ck, _, _ := strings.Cut(ce, "=")
			found := false
			for _, ne := range n.Env {
				if nk, _, _ := strings.Cut(ne, "="); nk == ck {
					found = true
					break
				}
			}
			if !found {
				n.Env = append(n.Env, ce)
			}
		}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k, v := range c.Labels {
		if _, ok := n.Labels[k]; !ok {
			n.Labels[k] = v
		}
	}
	if len(n.Entrypoint) == 0 {
		if len(n.Cmd) == 0 {
			n.Cmd = cloneStrings(c.Cmd)
		}
		if n.Entrypoint == nil {
			n.Entrypoint = cloneStrings(c.Entrypoint)
		}
	}
	if c.Healthcheck != nil {
		if n.Healthcheck == nil {
			h := *c.Healthcheck
			h.Test = cloneStrings(h.Test)
			n.Healthcheck = &h
		} else {
			if len(n.Healthcheck.Test) == 0 {
				n.Healthcheck.Test = cloneStrings(c.Healthcheck.Test)
			}
			if n.Healthcheck.Interval == 0 {
				n.Healthcheck.Interval = c.Healthcheck.Interval
			}
			if n.Healthcheck.Timeout == 0 {
				n.Healthcheck.Timeout = c.Healthcheck.Timeout
			}
			if n.Healthcheck.StartPeriod == 0 {
				n.Healthcheck.StartPeriod = c.Healthcheck.StartPeriod
			}
			if n.Healthcheck.Retries == 0 {
				n.Healthcheck.Retries = c.Healthcheck.Retries
			}
		}
	}
	if n.WorkingDir == "" {
		n.WorkingDir = c.WorkingDir
	}
	if len(n.Volumes) == 0 {
		n.Volumes = cloneSet(c.Volumes)
	} else {
		for v := range c.Volumes {
			n.Volumes[v] = struct{}{}
		}
	}
	if n.StopSignal == "" {
		n.StopSignal = c.StopSignal
	}
}
