package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// blob is a file of the output: small ones are in memory, layers are read
// from their source.
type blob struct {
	name  string // relative path in the archive/layout
	data  []byte // nil for layers
	layer *wLayer
}

type ociOut struct {
	blobs      []blob // sorted by name, unique
	index      []byte
	manifests  map[v1.Hash]v1.Hash // image ID → manifest digest
	manSizes   map[v1.Hash]int64
	manifestJS []byte // Docker form only
	repos      []byte // Docker form only; nil if no tags
}

func layerDescs(p *plan, wi *wImage) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, len(wi.diffIDs))
	for i, d := range wi.diffIDs {
		l := p.byDiff[d]
		out[i] = ociDesc(l.mt, l.digest, l.size)
	}
	return out
}

// keptManifest returns the source manifest of wi when the output blobs
// are exactly the ones it names, so it can be written unchanged.
func keptManifest(wi *wImage, descs []ocispec.Descriptor) ([]byte, types.MediaType, bool) {
	if fa, ok := wi.img.(interface{ ManifestFromArchive() bool }); ok && !fa.ManifestFromArchive() {
		return nil, "", false
	}
	raw, err := wi.img.RawManifest()
	if err != nil {
		return nil, "", false
	}
	mt, err := wi.img.MediaType()
	if err != nil || !mt.IsImage() {
		return nil, "", false
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil || m.Config.Digest != wi.id || m.Config.Size != int64(len(wi.raw)) || len(m.Layers) != len(descs) {
		return nil, "", false
	}
	for i, d := range m.Layers {
		if d.Digest.String() != descs[i].Digest.String() || d.Size != descs[i].Size {
			return nil, "", false
		}
	}
	return raw, mt, true
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// indexBytes returns the output bytes of an index: the source's when every
// child is written unchanged, else the source with the changed
// descriptors rewritten (the others kept byte for byte).
func indexBytes(wx *wIndex) ([]byte, error) {
	type out struct {
		d  v1.Hash
		sz int64
		mt types.MediaType
	}
	outs := make([]out, len(wx.kids))
	changed := false
	for i, k := range wx.kids {
		d := wx.im.Manifests[i]
		if k.img != nil {
			outs[i] = out{k.img.manD, int64(len(k.img.man)), k.img.manMT}
		} else {
			outs[i] = out{k.idx.outD, int64(len(k.idx.out)), k.idx.mt}
		}
		if outs[i].d != d.Digest || outs[i].sz != d.Size || (d.MediaType != "" && outs[i].mt != d.MediaType) {
			changed = true
		}
	}
	if !changed {
		return wx.raw, nil
	}
	var doc rawIndex
	if err := json.Unmarshal(wx.raw, &doc); err != nil || len(doc.Manifests) != len(outs) {
		return nil, fmt.Errorf("invalid index: %v", err)
	}
	for i, o := range outs {
		d := wx.im.Manifests[i]
		if o.d == d.Digest && o.sz == d.Size {
			continue
		}
		d.Digest, d.Size, d.MediaType = o.d, o.sz, o.mt
		b, err := json.Marshal(toDescriptor(d))
		if err != nil {
			return nil, err
		}
		doc.Manifests[i] = b
	}
	return json.Marshal(doc)
}

// buildOCI computes every blob and the index of an OCI layout (plus, for
// the Docker form, manifest.json and repositories).
func buildOCI(p *plan, docker bool) (*ociOut, error) {
	o := &ociOut{manifests: map[v1.Hash]v1.Hash{}, manSizes: map[v1.Hash]int64{}}
	seen := map[string]bool{}
	add := func(b blob) {
		if !seen[b.name] {
			seen[b.name] = true
			o.blobs = append(o.blobs, b)
		}
	}
	for _, wi := range p.images {
		if err := imageBlobs(p, wi, docker, add); err != nil {
			return nil, err
		}
		o.manifests[wi.id], o.manSizes[wi.id] = wi.manD, int64(len(wi.man))
	}
	// p.indexes is in post-order: children before parents
	for _, wx := range p.indexes {
		b, err := indexBytes(wx)
		if err != nil {
			return nil, err
		}
		wx.out, wx.outD = b, imageid.FromBytes(b)
		add(blob{name: blobName(wx.outD), data: b})
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: string(mediaTypeOCIIndex), Manifests: []ocispec.Descriptor{}}
	for _, r := range p.roots {
		idx.Manifests = append(idx.Manifests, rootDescs(r)...)
	}
	sort.Slice(o.blobs, func(i, j int) bool { return o.blobs[i].name < o.blobs[j].name })
	var err error
	if o.index, err = json.Marshal(idx); err != nil {
		return nil, err
	}
	if docker {
		if o.manifestJS, o.repos, err = dockerManifest(p); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// imageBlobs adds an image's config, layers and manifest: the source
// manifest when the blobs are unchanged (OCI forms), else a new OCI one.
func imageBlobs(p *plan, wi *wImage, docker bool, add func(blob)) error {
	add(blob{name: blobName(wi.id), data: wi.raw})
	for _, d := range wi.diffIDs {
		l := p.byDiff[d]
		add(blob{name: blobName(l.digest), layer: l})
	}
	descs := layerDescs(p, wi)
	if raw, mt, ok := keptManifest(wi, descs); ok && !docker {
		wi.man, wi.manMT = raw, mt
	} else {
		m := ociManifest(ociDesc(mediaTypeOCIConfig, wi.id, int64(len(wi.raw))), descs)
		mb, err := json.Marshal(m)
		if err != nil {
			return err
		}
		wi.man, wi.manMT = mb, mediaTypeOCIManifest
	}
	wi.manD = imageid.FromBytes(wi.man)
	add(blob{name: blobName(wi.manD), data: wi.man})
	return nil
}

// rootDescs are a root's index.json descriptors: one per tag (containerd
// and ref.name annotations), one per extra bare ref name, else one
// without annotations.
func rootDescs(r *wRoot) []ocispec.Descriptor {
	var rdesc ocispec.Descriptor
	if r.img != nil {
		rdesc = ociDesc(r.img.manMT, r.img.manD, int64(len(r.img.man)))
	} else {
		rdesc = ociDesc(r.idx.mt, r.idx.outD, int64(len(r.idx.out)))
	}
	var out []ocispec.Descriptor
	for _, t := range r.tags {
		d := rdesc
		d.Annotations = map[string]string{
			annotationContainerdName: reference.FullyQualified(t),
			annotationRefName:        t.TagStr(),
		}
		out = append(out, d)
	}
	for _, rn := range r.refNames {
		dup := false
		for _, t := range r.tags {
			dup = dup || t.TagStr() == rn
		}
		if dup {
			continue
		}
		d := rdesc
		d.Annotations = map[string]string{annotationRefName: rn}
		out = append(out, d)
	}
	if len(out) == 0 {
		out = append(out, rdesc)
	}
	return out
}

// writeOCITar writes an OCI archive, or (docker) Docker 25+'s save: the
// same layout plus manifest.json and repositories.
func writeOCITar(t *tarOut, p *plan, docker bool) error {
	o, err := buildOCI(p, docker)
	if err != nil {
		return err
	}
	if err := t.dir("blobs/"); err != nil {
		return err
	}
	if err := t.dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range o.blobs {
		if b.layer != nil {
			err = t.layer(b.name, b.layer)
		} else {
			err = t.file(b.name, b.data)
		}
		if err != nil {
			return err
		}
	}
	if err := t.file("index.json", o.index); err != nil {
		return err
	}
	if docker {
		if err := t.file("manifest.json", o.manifestJS); err != nil {
			return err
		}
	}
	if err := t.file("oci-layout", []byte(ociLayoutFile)); err != nil {
		return err
	}
	if docker && o.repos != nil {
		return t.file("repositories", o.repos)
	}
	return nil
}

// WriteLayout writes imgs as an OCI image layout in dir (created if
// missing). Blobs are written through temp files and renamed into
// blobs/sha256/; an existing blob of the same name is replaced. index.json
// is rewritten to list exactly imgs (one descriptor per tag, one per
// untagged image). opts.Format must be OCILayout (or left as the default).
func WriteLayout(dir string, imgs []item.Item, opts Options) error {
	if opts.Format != OCILayout && opts.Format != Docker {
		return fmt.Errorf("WriteLayout writes OCI layouts, not %s", opts.Format)
	}
	opts.Format = OCILayout
	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return err
	}
	p, err := newPlan(imgs, opts)
	if err != nil {
		return err
	}
	defer p.cleanup()
	// temp files live next to their final place so renames are atomic
	if err := p.prepare(blobDir); err != nil {
		removeTemps(p)
		return err
	}
	o, err := buildOCI(p, false)
	if err != nil {
		removeTemps(p)
		return err
	}
	for _, b := range o.blobs {
		dst := filepath.Join(dir, filepath.FromSlash(b.name))
		switch {
		case b.layer == nil:
			err = writeFileAtomic(dst, b.data)
		case b.layer.tmp != "":
			err = os.Chmod(b.layer.tmp, 0o644)
			if err == nil {
				err = os.Rename(b.layer.tmp, dst)
			}
			if err == nil {
				b.layer.tmp = ""
			}
		default:
			err = streamBlobFile(dst, b.layer)
		}
		if err != nil {
			removeTemps(p)
			return err
		}
	}
	if err := writeFileAtomic(filepath.Join(dir, "oci-layout"), []byte(ociLayoutFile)); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), o.index)
}

func removeTemps(p *plan) {
	for _, l := range p.layers {
		if l.tmp != "" {
			os.Remove(l.tmp)
		}
	}
}

func streamBlobFile(dst string, l *wLayer) error {
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-blob-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rc, check, err := l.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(f, rc); err != nil {
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if err := check(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

func writeFileAtomic(dst string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}
