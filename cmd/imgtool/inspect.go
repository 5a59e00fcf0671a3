package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/imgtool/imgtool/transfer"
	"github.com/spf13/pflag"
)

// inspectImage has the shape and key order of docker image inspect.
type inspectImage struct {
	ID              string            `json:"Id"`
	RepoTags        []string          `json:"RepoTags"`
	RepoDigests     []string          `json:"RepoDigests"`
	Parent          string            `json:"Parent"`
	Comment         string            `json:"Comment"`
	Created         string            `json:"Created"`
	Container       string            `json:"Container"`
	ContainerConfig json.RawMessage   `json:"ContainerConfig"`
	DockerVersion   string            `json:"DockerVersion"`
	Author          string            `json:"Author"`
	Config          json.RawMessage   `json:"Config"`
	Architecture    string            `json:"Architecture"`
	Variant         string            `json:"Variant,omitempty"`
	Os              string            `json:"Os"`
	OsVersion       string            `json:"OsVersion,omitempty"`
	Size            int64             `json:"Size"`
	VirtualSize     int64             `json:"VirtualSize"`
	GraphDriver     graphDriver       `json:"GraphDriver"`
	RootFS          inspectRootFS     `json:"RootFS"`
	Metadata        map[string]string `json:"Metadata"`
}

type graphDriver struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

type inspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// configFields are the config keys inspect copies.
type configFields struct {
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	OS           string `json:"os"`
	OSVersion    string `json:"os.version"`
	Author       string `json:"author"`
	Comment      string `json:"comment"`
	History      []struct {
		Comment string `json:"comment"`
	} `json:"history"`
	Created         string          `json:"created"`
	Container       string          `json:"container"`
	DockerVersion   string          `json:"docker_version"`
	Config          json.RawMessage `json:"config"`
	ContainerConfig json.RawMessage `json:"container_config"`
}

func init() {
	var format string
	var lf locationFlags
	register(&command{
		name:  "inspect",
		usage: "[-f TEMPLATE] IMAGE... | [--raw] [--config] [--insecure] [--creds USER:PASS] LOCATION",
		short: "Show images as docker image inspect does, or a location as skopeo inspect (JSON)",
		long: `Without -f, the JSON array docker image inspect prints. -f/--format runs a Go template
on each image's document, as docker does ({{.Id}}, {{.Config.Cmd}}, {{json .Config}},
{{index .RepoTags 0}}, {{range .RootFS.Layers}}{{println .}}{{end}}); a field the document
lacks is an error.

Examples:
  imgtool inspect app:1
  imgtool inspect -f '{{.Id}} {{.Size}}' app:1
  imgtool --root /var/lib/docker inspect debian:12 | jq '.[0].RootFS.Layers'

` + inspectLocationsLong,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&format, "format", "f", "", "format output using a Go template (or json)")
			lf.set(fs)
		},
		minArgs: 1, maxArgs: -1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			if len(args) == 1 && isLocation(args[0]) {
				lf.format = format
				return lf.inspect(g, args[0])
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			out := []inspectImage{}
			for _, a := range args {
				info, err := transfer.LookupImage(st, a)
				if err != nil {
					return err
				}
				out = append(out, toInspect(st, info))
			}
			if format != "" {
				return inspectTemplate(os.Stdout, format, out)
			}
			b, err := json.MarshalIndent(out, "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "%s\n", b)
			return nil
		},
	})
}

func toInspect(st transfer.Store, info *transfer.ImageInfo) inspectImage {
	var c configFields
	_ = json.Unmarshal(info.Config, &c)
	if c.Comment == "" && len(c.History) > 0 {
		// as dockerd's inspect: a config without a comment shows the last
		// history entry's (buildkit.dockerfile.v0 for BuildKit images)
		c.Comment = c.History[len(c.History)-1].Comment
	}
	orNull := func(m json.RawMessage) json.RawMessage {
		if len(m) == 0 {
			return json.RawMessage("null")
		}
		return m
	}
	tags, digests := splitDigestRefs(info.Tags)
	ii := inspectImage{
		ID: info.ID.String(), RepoTags: tags, RepoDigests: digests,
		Parent: info.Parent, Comment: c.Comment, Created: c.Created, Container: c.Container,
		ContainerConfig: orNull(c.ContainerConfig), DockerVersion: c.DockerVersion, Author: c.Author,
		Config: orNull(c.Config), Architecture: c.Architecture, Variant: c.Variant, Os: c.OS, OsVersion: c.OSVersion,
		Size: info.Size, VirtualSize: info.Size,
		GraphDriver: graphDriver{Name: transfer.GraphName(st), Data: transfer.GraphData(st, info)},
		RootFS:      inspectRootFS{Type: "layers"},
		Metadata:    map[string]string{"LastTagTime": lastTagTime(info.LastTagTime)},
	}
	for _, l := range info.Layers {
		ii.RootFS.Layers = append(ii.RootFS.Layers, l.DiffID.String())
	}
	return ii
}

func lastTagTime(s string) string {
	if s == "" {
		return "0001-01-01T00:00:00Z"
	}
	return s
}
