package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/registry"
	"github.com/imgtool/imgtool/transfer"
)

// inspect of a location (docker://REF, oci:DIR, docker-archive:PATH, …):
// skopeo inspect's document, --raw and --config.

// skopeoInspect has the shape and key order of skopeo inspect's output.
type skopeoInspect struct {
	Name          string `json:",omitempty"`
	Digest        string
	RepoTags      []string
	Created       *time.Time
	DockerVersion string
	Labels        map[string]string
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Layers        []string
	LayersData    []skopeoLayer
	Env           []string
}

type skopeoLayer struct {
	MIMEType    string
	Digest      string
	Size        int64
	Annotations map[string]string
}

// locationFlags are inspect's flags for locations.
type locationFlags struct {
	describeFlags
	raw, config, noTags bool
	format              string // -f: a Go template on the document, as skopeo --format
}

func (l *locationFlags) set(fs *pflag.FlagSet) {
	l.describeFlags.set(fs, true)
	fs.BoolVar(&l.raw, "raw", false, "a location: print the raw manifest (or with --config the raw config), as skopeo inspect --raw")
	fs.BoolVar(&l.config, "config", false, "a location: print the image's config (OCI form; raw with --raw), as skopeo inspect --config")
	fs.BoolVar(&l.noTags, "no-tags", false, "docker://: do not list the repository's tags (RepoTags is [])")
}

// isLocation says whether inspect's argument is a location rather than a
// store image: docker://REF, or TRANSPORT:PATH whose PATH exists (a store
// image may be named oci:1 or dir:latest).
func isLocation(arg string) bool {
	r, err := transfer.ParseRef(arg)
	if err != nil || r.Transport == "store" {
		return false
	}
	if r.Transport == "docker" {
		return true
	}
	_, err = os.Stat(r.Path)
	return err == nil
}

func (l *locationFlags) inspect(g *globals, loc string) error {
	desc, closer, err := l.describe(g, loc)
	if err != nil {
		return err
	}
	defer closer()
	if l.raw && !l.config {
		_, err := os.Stdout.Write(desc.Manifest)
		return err
	}
	img, err := l.image(desc)
	if err != nil {
		return fmt.Errorf("%s: %w", loc, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("%s: %w", loc, err)
	}
	switch {
	case l.config && l.raw:
		_, err := os.Stdout.Write(raw)
		return err
	case l.config:
		var oci ocispec.Image
		if err := json.Unmarshal(raw, &oci); err != nil {
			return fmt.Errorf("%s: config: %v", loc, err)
		}
		return printIndented(oci)
	}
	doc, err := l.document(g, loc, desc, img, raw)
	if err != nil {
		return err
	}
	if l.format != "" {
		tmpl, err := parseTemplate(l.format)
		if err != nil {
			return usageError{err.Error()}
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, doc); err != nil {
			return fmt.Errorf("template: %v", err)
		}
		fmt.Fprintln(os.Stdout, b.String())
		return nil
	}
	return printIndented(doc)
}

// document builds skopeo inspect's object from the manifest and config.
func (l *locationFlags) document(g *globals, loc string, desc *transfer.Described, img v1.Image, raw []byte) (*skopeoInspect, error) {
	var cf struct {
		Created       *time.Time `json:"created"`
		DockerVersion string     `json:"docker_version"`
		Architecture  string     `json:"architecture"`
		Variant       string     `json:"variant"`
		OS            string     `json:"os"`
		Config        struct {
			Labels map[string]string
			Env    []string
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("%s: config: %v", loc, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("%s: manifest: %v", loc, err)
	}
	doc := &skopeoInspect{Digest: desc.Digest.String(), RepoTags: []string{}, Created: cf.Created,
		DockerVersion: cf.DockerVersion, Labels: cf.Config.Labels, Architecture: cf.Architecture,
		Variant: cf.Variant, Os: cf.OS, Layers: []string{}, LayersData: []skopeoLayer{}, Env: cf.Config.Env}
	for _, d := range m.Layers {
		doc.Layers = append(doc.Layers, d.Digest.String())
		doc.LayersData = append(doc.LayersData, skopeoLayer{MIMEType: string(d.MediaType), Digest: d.Digest.String(), Size: d.Size, Annotations: d.Annotations})
	}
	if ref, ok := cutDocker(loc); ok {
		opts := l.rf.options(g, true)
		r, err := registry.ParseReference(ref, opts)
		if err != nil {
			return nil, err
		}
		doc.Name = r.Context().Name()
		if !l.noTags {
			if doc.RepoTags, err = registry.ListTags(g.ctx, r.Context().String(), opts); err != nil {
				return nil, err
			}
		}
	}
	return doc, nil
}

// printIndented prints v as skopeo does: four-space indents, a newline.
func printIndented(v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "%s\n", b)
	return nil
}

// inspectLocationsLong is inspect's help for locations.
var inspectLocationsLong = strings.TrimSpace(`
A location instead of a store image (docker://REF, docker-archive:PATH[:REF],
oci:DIR[:REF], oci-archive:PATH[:REF], dir:DIR) prints skopeo inspect's document:
Name, Digest, RepoTags (the repository's tags; --no-tags: none), Created,
DockerVersion, Labels, Architecture, Os, Layers, LayersData, Env (-f TEMPLATE runs a
Go template on it, as skopeo's --format). --raw prints the
raw manifest (or index), --config the config in OCI form, --config --raw the raw
config blob. An index gives the host's platform's image (or --platform's), with
Digest the index's. --insecure, --creds and --cert-dir are the registry options.

  imgtool inspect docker://127.0.0.1:5000/app:1
  imgtool inspect --raw docker://127.0.0.1:5000/app:1 | jq .mediaType
  imgtool inspect --config oci:layout:v1`)
