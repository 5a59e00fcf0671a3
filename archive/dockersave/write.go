// Package dockersave reads and writes `docker save` archives: Docker 25+'s
// (an OCI layout plus manifest.json and repositories) and the legacy form
// of Docker ≤24 (<v1id>/layer.tar directories, repositories).
package dockersave

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/imgtool/imgtool/archive/internal/core"
	"github.com/imgtool/imgtool/archive/oci"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
)

// dockerDescriptor is distribution.Descriptor's field order (manifest.json LayerSources).
type dockerDescriptor struct {
	MediaType types.MediaType `json:"mediaType"`
	Size      int64           `json:"size"`
	Digest    v1.Hash         `json:"digest"`
}

// encodeLine is json.NewEncoder(w).Encode: HTML-escaped, with a trailing newline.
func encodeLine(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// dockerItem is moby's tarexport.manifestItem, in its field order: the
// bytes of manifest.json must be Docker's.
type dockerItem struct {
	Config       string
	RepoTags     []string
	Layers       []string
	Parent       string                       `json:",omitempty"`
	LayerSources map[v1.Hash]dockerDescriptor `json:",omitempty"`
}

// dockerManifest is the Docker 25+ form's manifest.json and repositories
// (nil when nothing is tagged), over the OCI blobs buildOCI wrote.
func dockerManifest(p *core.Plan) (manifestJS, repos []byte, err error) {
	var items []dockerItem
	rp := map[string]map[string]string{}
	for _, r := range p.Roots {
		wi := r.Img
		if wi == nil {
			wi = r.Host // a stored index: its host platform's image
		}
		if wi == nil {
			continue
		}
		it := dockerItem{Config: "blobs/sha256/" + wi.ID.Hex, Parent: parentOf(p, r), LayerSources: map[v1.Hash]dockerDescriptor{}}
		for _, t := range r.Tags {
			it.RepoTags = append(it.RepoTags, reference.Familiar(t))
			addRepo(rp, t, wi.DiffIDs[len(wi.DiffIDs)-1].Hex)
		}
		it.Layers = []string{}
		for _, d := range wi.DiffIDs {
			l := p.ByDiff[d]
			if wi.Stored {
				// Docker 29's save (containerd's exporter): layers are the
				// stored blobs, compressed or not, without LayerSources;
				// docker load decompresses what it finds (Docker 20.10 too)
				it.Layers = append(it.Layers, "blobs/"+l.Digest.Algorithm+"/"+l.Digest.Hex)
				continue
			}
			it.Layers = append(it.Layers, "blobs/sha256/"+d.Hex)
			it.LayerSources[d] = dockerDescriptor{MediaType: core.MediaTypeOCILayer, Size: l.Size, Digest: d}
		}
		items = append(items, it)
	}
	return encodeManifest(items, rp)
}

func encodeManifest(items []dockerItem, rp map[string]map[string]string) (manifestJS, repos []byte, err error) {
	if manifestJS, err = encodeLine(items); err != nil {
		return nil, nil, err
	}
	if len(rp) > 0 {
		if repos, err = encodeLine(rp); err != nil {
			return nil, nil, err
		}
	}
	return manifestJS, repos, nil
}

// addRepo records a tag in repositories (familiar name → tag → top ID).
func addRepo(repos map[string]map[string]string, t name.Tag, top string) {
	fn := reference.FamiliarName(t)
	if repos[fn] == nil {
		repos[fn] = map[string]string{}
	}
	repos[fn][t.TagStr()] = top
}

// parentOf is the Parent manifest.json records for r: moby writes an
// image's parent only when the parent is saved in the same archive.
func parentOf(p *core.Plan, r *core.PlanRoot) string {
	if r.Parent == (v1.Hash{}) || p.ByID[r.Parent] == nil {
		return ""
	}
	return r.Parent.String()
}

// v1dir is one <v1 id>/ directory of a legacy save.
type v1dir struct {
	json    []byte
	layer   *core.PlanLayer
	symlink string // target, when the diff ID was written under another dir
}

// legacyOut is a legacy save's content before it is written in name order.
type legacyOut struct {
	dirs        map[string]*v1dir
	files       map[string][]byte  // <config>.json
	writtenDiff map[v1.Hash]string // diff ID → v1 id holding the real layer.tar
	items       []dockerItem
	repos       map[string]map[string]string
}

// Write writes imgs to w as Docker 25+'s save: an OCI image layout with
// uncompressed layers plus manifest.json and repositories. An index cannot
// be held: each runnable platform image is written as its own image, the
// tags going to the host platform's image (else the first); Parent is
// written to manifest.json when that image is in the archive too.
func Write(w io.Writer, imgs []item.Item, opts core.Options) error {
	opts.Format = core.Docker
	return core.WriteTar(w, imgs, opts, func(t *core.TarOut, p *core.Plan) error {
		return oci.WriteTar(t, p, dockerManifest)
	})
}

// WriteLegacy writes imgs to w as Docker ≤24's save (<v1id>/layer.tar
// dirs, <imageID>.json configs), with v1 IDs exactly as Docker 20.10
// computes them.
func WriteLegacy(w io.Writer, imgs []item.Item, opts core.Options) error {
	opts.Format = core.DockerLegacy
	return core.WriteTar(w, imgs, opts, writeLegacy)
}

// writeLegacy writes Docker 20.10's save format.
func writeLegacy(t *core.TarOut, p *core.Plan) error {
	o := &legacyOut{dirs: map[string]*v1dir{}, files: map[string][]byte{}, writtenDiff: map[v1.Hash]string{}, repos: map[string]map[string]string{}}
	for _, r := range p.Roots {
		if err := o.addRoot(p, r); err != nil {
			return err
		}
	}
	if err := o.write(t); err != nil {
		return err
	}
	mj, repos, err := encodeManifest(o.items, o.repos)
	if err != nil {
		return err
	}
	if err := t.File("manifest.json", mj); err != nil {
		return err
	}
	if repos != nil {
		return t.File("repositories", repos)
	}
	return nil
}

// addRoot lays out one image: its config, a directory per v1 ID (the
// layer.tar of a diff ID already written becomes a symlink to it, as
// Docker 20.10 writes), its manifest.json item and its tags.
func (o *legacyOut) addRoot(p *core.Plan, r *core.PlanRoot) error {
	wi := r.Img
	chain, err := legacyV1Chain(wi.Raw, wi.DiffIDs)
	if err != nil {
		return fmt.Errorf("image %s: %v", wi.ID, err)
	}
	it := dockerItem{Config: wi.ID.Hex + ".json", Parent: parentOf(p, r)}
	o.files[it.Config] = wi.Raw
	for i, c := range chain {
		it.Layers = append(it.Layers, c.ID+"/layer.tar")
		if _, ok := o.dirs[c.ID]; ok {
			continue
		}
		d := &v1dir{json: c.JSON}
		if holder, ok := o.writtenDiff[wi.DiffIDs[i]]; ok {
			d.symlink = "../" + holder + "/layer.tar"
		} else {
			d.layer = p.ByDiff[wi.DiffIDs[i]]
			o.writtenDiff[wi.DiffIDs[i]] = c.ID
		}
		o.dirs[c.ID] = d
	}
	top := chain[len(chain)-1].ID
	for _, tg := range r.Tags {
		it.RepoTags = append(it.RepoTags, reference.Familiar(tg))
		addRepo(o.repos, tg, top)
	}
	o.items = append(o.items, it)
	return nil
}

// write writes every top-level name, sorted: <config>.json files and
// <v1id>/ dirs (VERSION, json, layer.tar).
func (o *legacyOut) write(t *core.TarOut) error {
	var names []string
	for n := range o.files {
		names = append(names, n)
	}
	for n := range o.dirs {
		names = append(names, n+"/")
	}
	sort.Strings(names)
	for _, n := range names {
		if b, ok := o.files[n]; ok {
			if err := t.File(n, b); err != nil {
				return err
			}
			continue
		}
		id := n[:len(n)-1]
		d := o.dirs[id]
		if err := t.Dir(n); err != nil {
			return err
		}
		if err := t.File(id+"/VERSION", []byte("1.0")); err != nil {
			return err
		}
		if err := t.File(id+"/json", d.json); err != nil {
			return err
		}
		var err error
		if d.symlink != "" {
			err = t.Symlink(id+"/layer.tar", d.symlink)
		} else {
			err = t.Layer(id+"/layer.tar", d.layer)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
