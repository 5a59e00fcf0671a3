package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
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

const ociLayoutFile = `{"imageLayoutVersion": "1.0.0"}`

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
func dockerManifest(p *plan) (manifestJS, repos []byte, err error) {
	var items []dockerItem
	rp := map[string]map[string]string{}
	for _, r := range p.roots {
		if r.img == nil {
			continue
		}
		wi := r.img
		it := dockerItem{Config: "blobs/sha256/" + wi.id.Hex, Parent: p.parentOf(r), LayerSources: map[v1.Hash]dockerDescriptor{}}
		for _, t := range r.tags {
			it.RepoTags = append(it.RepoTags, reference.Familiar(t))
			addRepo(rp, t, wi.diffIDs[len(wi.diffIDs)-1].Hex)
		}
		it.Layers = []string{}
		for _, d := range wi.diffIDs {
			l := p.byDiff[d]
			it.Layers = append(it.Layers, "blobs/sha256/"+d.Hex)
			it.LayerSources[d] = dockerDescriptor{MediaType: mediaTypeOCILayer, Size: l.size, Digest: d}
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
func (p *plan) parentOf(r *wRoot) string {
	if r.parent == (v1.Hash{}) || p.byID[r.parent] == nil {
		return ""
	}
	return r.parent.String()
}

// v1dir is one <v1 id>/ directory of a legacy save.
type v1dir struct {
	json    []byte
	layer   *wLayer
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

// writeLegacy writes Docker 20.10's save format.
func writeLegacy(t *tarOut, p *plan) error {
	o := &legacyOut{dirs: map[string]*v1dir{}, files: map[string][]byte{}, writtenDiff: map[v1.Hash]string{}, repos: map[string]map[string]string{}}
	for _, r := range p.roots {
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
	if err := t.file("manifest.json", mj); err != nil {
		return err
	}
	if repos != nil {
		return t.file("repositories", repos)
	}
	return nil
}

// addRoot lays out one image: its config, a directory per v1 ID (the
// layer.tar of a diff ID already written becomes a symlink to it, as
// Docker 20.10 writes), its manifest.json item and its tags.
func (o *legacyOut) addRoot(p *plan, r *wRoot) error {
	wi := r.img
	chain, err := legacyV1Chain(wi.raw, wi.diffIDs)
	if err != nil {
		return fmt.Errorf("image %s: %v", wi.id, err)
	}
	it := dockerItem{Config: wi.id.Hex + ".json", Parent: p.parentOf(r)}
	o.files[it.Config] = wi.raw
	for i, c := range chain {
		it.Layers = append(it.Layers, c.id+"/layer.tar")
		if _, ok := o.dirs[c.id]; ok {
			continue
		}
		d := &v1dir{json: c.json}
		if holder, ok := o.writtenDiff[wi.diffIDs[i]]; ok {
			d.symlink = "../" + holder + "/layer.tar"
		} else {
			d.layer = p.byDiff[wi.diffIDs[i]]
			o.writtenDiff[wi.diffIDs[i]] = c.id
		}
		o.dirs[c.id] = d
	}
	top := chain[len(chain)-1].id
	for _, tg := range r.tags {
		it.RepoTags = append(it.RepoTags, reference.Familiar(tg))
		addRepo(o.repos, tg, top)
	}
	o.items = append(o.items, it)
	return nil
}

// write writes every top-level name, sorted: <config>.json files and
// <v1id>/ dirs (VERSION, json, layer.tar).
func (o *legacyOut) write(t *tarOut) error {
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
			if err := t.file(n, b); err != nil {
				return err
			}
			continue
		}
		id := n[:len(n)-1]
		d := o.dirs[id]
		if err := t.dir(n); err != nil {
			return err
		}
		if err := t.file(id+"/VERSION", []byte("1.0")); err != nil {
			return err
		}
		if err := t.file(id+"/json", d.json); err != nil {
			return err
		}
		var err error
		if d.symlink != "" {
			err = t.symlink(id+"/layer.tar", d.symlink)
		} else {
			err = t.layer(id+"/layer.tar", d.layer)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hostFirst is the index of the image a docker-save tags for a
// multi-platform index: the best one the host runs, else the first.
func hostFirst(pis []item.Item) int {
	best := -1
	for i, pi := range pis {
		if pi.Platform == nil || !platform.RunsOnHost(*pi.Platform) {
			continue
		}
		if best < 0 || platform.HostLess(*pi.Platform, *pis[best].Platform) {
			best = i
		}
	}
	return max(best, 0)
}
