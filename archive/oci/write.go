// Package oci reads and writes OCI image layouts: directories and tars
// (oci-archive), images and whole indexes, artifacts carried byte for
// byte. Docker 25+'s save is this layout plus manifest.json, so
// archive/dockersave writes through WriteTar.
package oci

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
	"github.com/imgtool/imgtool/archive/internal/core"
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
	layer *core.PlanLayer
}

type ociOut struct {
	blobs      []blob // sorted by name, unique
	index      []byte
	manifests  map[v1.Hash]v1.Hash // image ID → manifest digest
	manSizes   map[v1.Hash]int64
	manifestJS []byte // Docker form only
	repos      []byte // Docker form only; nil if no tags
}

func layerDescs(p *core.Plan, wi *core.PlanImage) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, len(wi.DiffIDs))
	for i, d := range wi.DiffIDs {
		l := p.ByDiff[d]
		out[i] = core.OCIDesc(l.MT, l.Digest, l.Size)
	}
	return out
}

// keptManifest returns the source manifest of wi when the output blobs
// are exactly the ones it names, so it can be written unchanged.
func keptManifest(wi *core.PlanImage, descs []ocispec.Descriptor) ([]byte, types.MediaType, bool) {
	if fa, ok := wi.Img.(interface{ ManifestFromArchive() bool }); ok && !fa.ManifestFromArchive() {
		return nil, "", false
	}
	raw, err := wi.Img.RawManifest()
	if err != nil {
		return nil, "", false
	}
	mt, err := wi.Img.MediaType()
	if err != nil || !mt.IsImage() {
		return nil, "", false
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil || m.Config.Digest != wi.ID || m.Config.Size != int64(len(wi.Raw)) || len(m.Layers) != len(descs) {
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
func indexBytes(wx *core.PlanIndex) ([]byte, error) {
	type out struct {
		d  v1.Hash
		sz int64
		MT types.MediaType
	}
	outs := make([]out, len(wx.Kids))
	changed := false
	for i, k := range wx.Kids {
		d := wx.IM.Manifests[i]
		switch {
		case k == (core.PlanKid{}): // left out (not in the store): kept as it is
			outs[i] = out{d.Digest, d.Size, d.MediaType}
		case k.Art != nil:
			outs[i] = out{k.Art.D, int64(len(k.Art.Raw)), k.Art.MT}
		case k.Img != nil:
			outs[i] = out{k.Img.ManD, int64(len(k.Img.Man)), k.Img.ManMT}
		default:
			outs[i] = out{k.Idx.OutD, int64(len(k.Idx.Out)), k.Idx.MT}
		}
		if outs[i].d != d.Digest || outs[i].sz != d.Size || (d.MediaType != "" && outs[i].MT != d.MediaType) {
			changed = true
		}
	}
	if !changed {
		return wx.Raw, nil
	}
	var doc core.RawIndex
	if err := json.Unmarshal(wx.Raw, &doc); err != nil || len(doc.Manifests) != len(outs) {
		return nil, fmt.Errorf("invalid index: %v", err)
	}
	for i, o := range outs {
		d := wx.IM.Manifests[i]
		if o.d == d.Digest && o.sz == d.Size {
			continue
		}
		d.Digest, d.Size, d.MediaType = o.d, o.sz, o.MT
		b, err := json.Marshal(core.ToDescriptor(d))
		if err != nil {
			return nil, err
		}
		doc.Manifests[i] = b
	}
	return json.Marshal(doc)
}

// buildOCI computes every blob and the index of an OCI layout (plus, for
// the Docker form, manifest.json and repositories).
func buildOCI(p *core.Plan, docker DockerFiles) (*ociOut, error) {
	o := &ociOut{manifests: map[v1.Hash]v1.Hash{}, manSizes: map[v1.Hash]int64{}}
	seen := map[string]bool{}
	add := func(b blob) {
		if !seen[b.name] {
			seen[b.name] = true
			o.blobs = append(o.blobs, b)
		}
	}
	for _, wi := range p.Images {
		if err := imageBlobs(p, wi, docker != nil, add); err != nil {
			return nil, err
		}
		o.manifests[wi.ID], o.manSizes[wi.ID] = wi.ManD, int64(len(wi.Man))
	}
	for _, pa := range p.Arts {
		add(blob{name: blobName(pa.D), data: pa.Raw})
		for _, b := range pa.Blobs {
			add(blob{name: blobName(b.Digest), layer: b})
		}
	}
	// p.indexes is in post-order: children before parents
	for _, wx := range p.Indexes {
		b, err := indexBytes(wx)
		if err != nil {
			return nil, err
		}
		wx.Out, wx.OutD = b, imageid.FromBytes(b)
		add(blob{name: blobName(wx.OutD), data: b})
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: string(core.MediaTypeOCIIndex), Manifests: []ocispec.Descriptor{}}
	for _, r := range p.Roots {
		idx.Manifests = append(idx.Manifests, rootDescs(r)...)
	}
	sort.Slice(o.blobs, func(i, j int) bool { return o.blobs[i].name < o.blobs[j].name })
	reportRoots(p)
	var err error
	if o.index, err = json.Marshal(idx); err != nil {
		return nil, err
	}
	if docker != nil {
		if o.manifestJS, o.repos, err = docker(p); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// reportRoots tells Options.Wrote each root's written digest.
func reportRoots(p *core.Plan) {
	if p.Opts.Wrote == nil {
		return
	}
	for _, r := range p.Roots {
		switch {
		case r.Img != nil:
			p.Opts.Wrote(r.Img.ID, r.Img.ManD)
		case r.Art != nil: // carried unchanged
			p.Opts.Wrote(r.Art.D, r.Art.D)
		case r.Idx != nil:
			if d, err := r.Idx.Src.Digest(); err == nil {
				p.Opts.Wrote(d, r.Idx.OutD)
			}
		}
	}
}

// imageBlobs adds an image's config, layers and manifest: the source
// manifest when the blobs are unchanged (OCI forms; the Docker form for a
// stored-form image), else a new OCI one.
func imageBlobs(p *core.Plan, wi *core.PlanImage, docker bool, add func(blob)) error {
	add(blob{name: blobName(wi.ID), data: wi.Raw})
	for _, d := range wi.DiffIDs {
		l := p.ByDiff[d]
		add(blob{name: blobName(l.Digest), layer: l})
	}
	descs := layerDescs(p, wi)
	if raw, mt, ok := keptManifest(wi, descs); ok && (!docker || wi.Stored) {
		wi.Man, wi.ManMT = raw, mt
	} else {
		m := core.OCIManifest(core.OCIDesc(core.MediaTypeOCIConfig, wi.ID, int64(len(wi.Raw))), descs)
		mb, err := json.Marshal(m)
		if err != nil {
			return err
		}
		wi.Man, wi.ManMT = mb, core.MediaTypeOCIManifest
	}
	wi.ManD = imageid.FromBytes(wi.Man)
	add(blob{name: blobName(wi.ManD), data: wi.Man})
	return nil
}

// rootDescs are a root's index.json descriptors: one per tag (containerd
// and ref.name annotations), one per extra bare ref name, else one
// without annotations.
func rootDescs(r *core.PlanRoot) []ocispec.Descriptor {
	var rdesc ocispec.Descriptor
	switch {
	case r.Art != nil:
		rdesc = r.ArtEntry
	case r.Img != nil:
		rdesc = core.OCIDesc(r.Img.ManMT, r.Img.ManD, int64(len(r.Img.Man)))
	default:
		rdesc = core.OCIDesc(r.Idx.MT, r.Idx.OutD, int64(len(r.Idx.Out)))
	}
	var out []ocispec.Descriptor
	for _, t := range r.Tags {
		d := rdesc
		d.Annotations = withNames(rdesc.Annotations, map[string]string{
			core.AnnotationContainerdName: reference.FullyQualified(t),
			core.AnnotationRefName:        t.TagStr(),
		})
		out = append(out, d)
	}
	for _, rn := range r.RefNames {
		dup := false
		for _, t := range r.Tags {
			dup = dup || t.TagStr() == rn
		}
		if dup {
			continue
		}
		d := rdesc
		d.Annotations = withNames(rdesc.Annotations, map[string]string{core.AnnotationRefName: rn})
		out = append(out, d)
	}
	if len(out) == 0 {
		out = append(out, rdesc)
	}
	return out
}

// withNames is an entry's own annotations (an artifact's, kept from its
// source entry) with the name annotations added.
func withNames(own, names map[string]string) map[string]string {
	out := make(map[string]string, len(own)+len(names))
	for k, v := range own {
		out[k] = v
	}
	for k, v := range names {
		out[k] = v
	}
	return out
}

// Write writes imgs to w as one OCI archive: a tar of an OCI image layout.
// An item holding an index is written whole, keeping its bytes when every
// child manifest is written unchanged; RefNames are extra bare
// org.opencontainers.image.ref.name values.
func Write(w io.Writer, imgs []item.Item, opts core.Options) error {
	opts.Format = core.OCIArchive
	return core.WriteTar(w, imgs, opts, func(t *core.TarOut, p *core.Plan) error {
		return WriteTar(t, p, nil)
	})
}

// DockerFiles makes the files Docker 25+'s save writes beside the layout:
// manifest.json (after index.json) and repositories (last; nil when
// nothing is tagged).
type DockerFiles func(p *core.Plan) (manifestJS, repos []byte, err error)

// WriteTar writes the planned images as an OCI layout into t; with docker
// set it is Docker 25+'s save: every manifest rewritten over the
// uncompressed blobs, plus docker's files.
func WriteTar(t *core.TarOut, p *core.Plan, docker DockerFiles) error {
	o, err := buildOCI(p, docker)
	if err != nil {
		return err
	}
	if err := t.Dir("blobs/"); err != nil {
		return err
	}
	if err := t.Dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range o.blobs {
		if b.layer != nil {
			err = t.Layer(b.name, b.layer)
		} else {
			err = t.File(b.name, b.data)
		}
		if err != nil {
			return err
		}
	}
	if err := t.File("index.json", o.index); err != nil {
		return err
	}
	if docker != nil {
		if err := t.File("manifest.json", o.manifestJS); err != nil {
			return err
		}
	}
	if err := t.File("oci-layout", []byte(core.OCILayoutFile)); err != nil {
		return err
	}
	if docker != nil && o.repos != nil {
		return t.File("repositories", o.repos)
	}
	return nil
}

// WriteLayout writes imgs as an OCI image layout in dir (created if
// missing). Blobs are written through temp files and renamed into
// blobs/sha256/; an existing blob of the same name is replaced. index.json
// is rewritten to list exactly imgs (one descriptor per tag, one per
// untagged image). opts.Format must be OCILayout (or left as the default).
func WriteLayout(dir string, imgs []item.Item, opts core.Options) error {
	if opts.Format != core.OCILayout && opts.Format != core.Docker {
		return fmt.Errorf("WriteLayout writes OCI layouts, not %s", opts.Format)
	}
	opts.Format = core.OCILayout
	_, statErr := os.Lstat(dir)
	err := writeLayout(dir, imgs, opts)
	if err != nil && os.IsNotExist(statErr) {
		// A layout this write created goes with it: a failed or
		// interrupted convert leaves no half-made directory behind. An
		// existing layout keeps what it had (blobs are only added).
		os.RemoveAll(dir)
	}
	return err
}

func writeLayout(dir string, imgs []item.Item, opts core.Options) error {
	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return err
	}
	p, err := core.NewPlan(imgs, opts)
	if err != nil {
		return err
	}
	defer p.Cleanup()
	// temp files live next to their final place so renames are atomic
	if err := p.Prepare(blobDir); err != nil {
		removeTemps(p)
		return err
	}
	o, err := buildOCI(p, nil)
	if err != nil {
		removeTemps(p)
		return err
	}
	for _, b := range o.blobs {
		dst := filepath.Join(dir, filepath.FromSlash(b.name))
		switch {
		case b.layer == nil:
			err = writeFileAtomic(dst, b.data)
		case b.layer.Tmp != "":
			err = os.Chmod(b.layer.Tmp, 0o644)
			if err == nil {
				err = os.Rename(b.layer.Tmp, dst)
			}
			if err == nil {
				b.layer.Tmp = ""
			}
		default:
			err = streamBlobFile(dst, b.layer)
		}
		if err != nil {
			removeTemps(p)
			return err
		}
	}
	if err := writeFileAtomic(filepath.Join(dir, "oci-layout"), []byte(core.OCILayoutFile)); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), o.index)
}

// removeTemps unlinks the spooled blobs a failed WriteLayout left.
func removeTemps(p *core.Plan) {
	for _, l := range p.Layers {
		if l.Tmp != "" {
			os.Remove(l.Tmp)
		}
	}
}

// streamBlobFile writes a layer blob to dst through a temp file beside it.
func streamBlobFile(dst string, l *core.PlanLayer) error {
	return writeAtomic(dst, ".tmp-blob-*", func(f *os.File) error {
		rc, check, err := l.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := io.Copy(f, rc); err != nil {
			return fmt.Errorf("layer %s: %v", l.DiffID, err)
		}
		return check()
	})
}

// writeFileAtomic writes b to dst through a temp file beside it.
func writeFileAtomic(dst string, b []byte) error {
	return writeAtomic(dst, ".tmp-*", func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}

// writeAtomic fills a temp file (named by pattern) beside dst, makes it
// 0644 and renames it to dst; on failure the temp file is removed.
func writeAtomic(dst, pattern string, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(dst), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := fill(f); err != nil {
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
