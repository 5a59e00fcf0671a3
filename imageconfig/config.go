// Package imageconfig builds Docker image configs the way Docker Engine 20.10
// does for `docker import` and `docker commit`: the container.Config struct
// with its exact JSON shape, the `--change` (Dockerfile instruction)
// semantics of the classic builder, and the byte-exact config JSON whose
// sha256 is the image ID.
package imageconfig

import (
	"encoding/json"
	"fmt"
	"time"
)

// ContainerConfig mirrors Docker 20.10's container.Config: field order and
// omitempty rules are part of the image ID, so they must not change.
type ContainerConfig struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    map[string]struct{} `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             []string
	Healthcheck     *HealthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      []string
	NetworkDisabled bool   `json:",omitempty"`
	MacAddress      string `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           []string `json:",omitempty"`
}

// HealthConfig mirrors Docker's container.HealthConfig (durations are
// marshaled as integer nanoseconds).
type HealthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	Retries     int           `json:",omitempty"`
}

// strSlice decodes like Docker's strslice.StrSlice: a JSON array of strings,
// or a single string (legacy configs); null leaves nil.
type strSlice []string

func (s *strSlice) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p := make([]string, 0, 1)
	if err := json.Unmarshal(b, &p); err != nil {
		var one string
		if err2 := json.Unmarshal(b, &one); err2 != nil {
			return err
		}
		p = append(p, one)
	}
	*s = p
	return nil
}

// UnmarshalJSON decodes a container config as Docker does: Cmd, Entrypoint
// and Shell also accept a plain string. Marshaling uses the default encoder.
func (c *ContainerConfig) UnmarshalJSON(b []byte) error {
	type plain ContainerConfig
	aux := struct {
		*plain
		Cmd        strSlice
		Entrypoint strSlice
		Shell      strSlice
	}{plain: (*plain)(c), Cmd: c.Cmd, Entrypoint: c.Entrypoint, Shell: c.Shell}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.Cmd, c.Entrypoint, c.Shell = aux.Cmd, aux.Entrypoint, aux.Shell
	return nil
}

// Clone returns a deep copy of c (nil for nil). Nil and empty slices and maps
// stay distinct, since they marshal differently (null vs [] / {}).
func (c *ContainerConfig) Clone() *ContainerConfig {
	if c == nil {
		return nil
	}
	n := *c
	n.ExposedPorts = cloneSet(c.ExposedPorts)
	n.Volumes = cloneSet(c.Volumes)
	n.Env = cloneStrings(c.Env)
	n.Cmd = cloneStrings(c.Cmd)
	n.Entrypoint = cloneStrings(c.Entrypoint)
	n.OnBuild = cloneStrings(c.OnBuild)
	n.Shell = cloneStrings(c.Shell)
	if c.Labels != nil {
		n.Labels = make(map[string]string, len(c.Labels))
		for k, v := range c.Labels {
			n.Labels[k] = v
		}
	}
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = cloneStrings(c.Healthcheck.Test)
		n.Healthcheck = &h
	}
	if c.StopTimeout != nil {
		t := *c.StopTimeout
		n.StopTimeout = &t
	}
	return &n
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}

func cloneSet(m map[string]struct{}) map[string]struct{} {
	if m == nil {
		return nil
	}
	n := make(map[string]struct{}, len(m))
	for k := range m {
		n[k] = struct{}{}
	}
	return n
}

// ParseContainerConfig returns the "config" object of an image config (the
// runtime defaults: Env, Cmd, Entrypoint, ...). An image without one (or with
// "config": null) gives an empty, non-nil config.
func ParseContainerConfig(configJSON []byte) (*ContainerConfig, error) {
	var img struct {
		Config *ContainerConfig `json:"config"`
	}
	if err := json.Unmarshal(configJSON, &img); err != nil {
		return nil, fmt.Errorf("parsing image config: %w", err)
	}
	if img.Config == nil {
		return &ContainerConfig{}, nil
	}
	return img.Config, nil
}
