package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// containerConfig is docker's container.Config, in its field order, so
// that {{json .Config}} prints what docker prints. It is not
// imageconfig.ContainerConfig: that one is Docker 20.10's, whose bytes are
// part of image IDs; this one is docker 28's inspect output, whose
// healthcheck has StartInterval.
type containerConfig struct {
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
	Healthcheck     *healthConfig `json:",omitempty"`
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

// imageConfig is the Config of docker 28's image inspect: the OCI image
// config with Docker's extensions, every field omitted when empty.
type imageConfig struct {
	User         string              `json:",omitempty"`
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Env          []string            `json:",omitempty"`
	Entrypoint   []string            `json:",omitempty"`
	Cmd          []string            `json:",omitempty"`
	Volumes      map[string]struct{} `json:",omitempty"`
	WorkingDir   string              `json:",omitempty"`
	Labels       map[string]string   `json:",omitempty"`
	StopSignal   string              `json:",omitempty"`
	ArgsEscaped  bool                `json:",omitempty"`
	Healthcheck  *healthConfig       `json:",omitempty"`
	OnBuild      []string            `json:",omitempty"`
	Shell        []string            `json:",omitempty"`
}

type healthConfig struct {
	Test          []string `json:",omitempty"`
	Interval      int64    `json:",omitempty"`
	Timeout       int64    `json:",omitempty"`
	StartPeriod   int64    `json:",omitempty"`
	StartInterval int64    `json:",omitempty"`
	Retries       int      `json:",omitempty"`
}

// inspectTyped is the inspect document as docker's types hold it, which
// is what docker runs an inspect template on.
type inspectTyped struct {
	ID              string `json:"Id"`
	RepoTags        []string
	RepoDigests     []string
	Parent          string
	Comment         string
	Created         string
	Container       string
	ContainerConfig *containerConfig
	DockerVersion   string
	Author          string
	Config          *imageConfig
	Architecture    string
	Variant         string `json:",omitempty"`
	Os              string
	OsVersion       string `json:",omitempty"`
	Size            int64
	VirtualSize     int64
	GraphDriver     graphDriver
	RootFS          inspectRootFS
	Metadata        struct{ LastTagTime string }
}

// inspectTemplate runs a -f template on each document as docker does: on
// the typed document, and when that fails on the JSON as a map (a key
// missing there is an error).
func inspectTemplate(w io.Writer, format string, docs []inspectImage) error {
	if format == "json" {
		format = "{{json .}}"
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for _, d := range docs {
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		var typed inspectTyped
		if err := json.Unmarshal(raw, &typed); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, &typed); err != nil {
			b.Reset()
			if err := rawInspect(tmpl, raw, &b); err != nil {
				return err
			}
		}
		out.Write(b.Bytes())
		out.WriteString("\n")
	}
	_, err = w.Write(out.Bytes())
	return err
}

func rawInspect(tmpl *template.Template, raw []byte, w io.Writer) error {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	if err := tmpl.Option("missingkey=error").Execute(w, m); err != nil {
		return fmt.Errorf("template parsing error: %s", strings.TrimSpace(err.Error()))
	}
	return nil
}
