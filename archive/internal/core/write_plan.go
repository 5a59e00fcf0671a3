package core

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/tarball"
)

// Format selects the archive layout a writer produces.
type Format int

const (
	// Docker is Docker 25+'s save format: an OCI image layout with
	// uncompressed layers plus manifest.json and repositories (loads on
	// every Docker version and on OCI tools).
	Docker Format = iota
	// DockerLegacy is Docker ≤24's save format (<v1id>/layer.tar dirs,
	// <imageID>.json configs), with v1 IDs exactly as Docker 20.10 computes them.
	DockerLegacy
	// OCIArchive is a tar of an OCI image layout (no manifest.json).
	OCIArchive
	// OCILayout is an OCI image layout directory (WriteLayout only).
	OCILayout
)

func (f Format) String() string {
	switch f {
	case Docker:
		return "docker"
	case DockerLegacy:
		return "docker-legacy"
	case OCIArchive:
		return "oci-archive"
	case OCILayout:
		return "oci-layout"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Options control the writers.
type Options struct {
	Format Format
	// Epoch is the mtime of every tar entry (e.g. from SOURCE_DATE_EPOCH);
	// the zero value means Unix 0. It is truncated to whole seconds.
	Epoch time.Time
	// Compression of layer blobs in the OCI forms (None, Gzip or Zstd).
	// The Docker forms hold uncompressed layers, except the Docker 25+
	// form for a stored-form image (StoredForm), whose blobs are copied.
	Compression tarball.Compression
	// Level is the compression level (0 = the compressor's default;
	// gzip 1-9, zstd 1-22 mapped to the nearest klauspost level).
	Level int
	// Jobs bounds concurrent layer spooling/compression (0 = GOMAXPROCS).
	Jobs int
	// Keep makes the OCI forms copy every layer blob as its source stores
	// it (gzip, zstd or uncompressed), so layer digests, manifests and
	// indexes keep their digests; Compression then applies to nothing.
	// Without Keep, layers are written with Compression, except that a
	// blob already stored with Compression is copied, never recompressed.
	// Blobs that are not layer tars (attestations) are always copied.
	Keep bool
	// Wrote, if set, is told each written root's manifest (or index)
	// digest, keyed by the image ID (for an index: the source index's
	// digest), so callers can report what the output names; the forms
	// without manifests (Docker <=24's) never call it.
	Wrote func(src, manifest v1.Hash)
}

// uncompressedSizer is implemented by layers that know the size of their
// uncompressed tar without reading it (store layers, uncompressed archive
// layers).
type uncompressedSizer interface {
	UncompressedSize() (int64, bool)
}

type PlanImage struct {
	Img     v1.Image
	Raw     []byte
	ID      v1.Hash
	DiffIDs []v1.Hash
	Layers  []v1.Layer
	// Stored: the image is written as its store holds it (StoredForm),
	// in the Docker 25+ form too.
	Stored bool

	// output manifest (set by buildOCI)
	Man   []byte
	ManMT types.MediaType
	ManD  v1.Hash
}

// PlanIndex is an image index to write whole (OCI forms).
type PlanIndex struct {
	Src  v1.ImageIndex
	Raw  []byte
	MT   types.MediaType
	IM   *v1.IndexManifest
	Kids []PlanKid // parallel to im.Manifests

	Out  []byte // output bytes (set by buildOCI)
	OutD v1.Hash
}

type PlanKid struct {
	Img *PlanImage
	Idx *PlanIndex
	Art *PlanArtifact
}

// PlanArtifact is an artifact to copy unchanged (OCI forms): its manifest
// bytes and the blobs it names, each copied as stored and checked
// against its digest.
type PlanArtifact struct {
	X     *Artifact
	Raw   []byte
	MT    types.MediaType
	D     v1.Hash
	Blobs []*PlanLayer
}

// PlanRoot is one item of index.json / manifest.json.
type PlanRoot struct {
	Img      *PlanImage
	Idx      *PlanIndex
	Art      *PlanArtifact
	ArtEntry ocispec.Descriptor // an artifact's own index entry (Artifact.EntryDescriptor)
	Tags     []name.Tag
	RefNames []string
	Parent   v1.Hash // the item's Parent image ID (docker save forms)
	// Host is the image manifest.json names for a stored-form index root
	// in Docker 25+'s form (Docker 29's save: the host platform's).
	Host *PlanImage
}

// PlanLayer is one distinct layer (by diff ID) to write.
type PlanLayer struct {
	DiffID v1.Hash
	Src    v1.Layer

	// result of preparing: where the blob bytes come from
	Size   int64   // blob size
	Digest v1.Hash // blob digest
	MT     types.MediaType
	Tmp    string // spooled/compressed blob file; "" when streamed
	Stream bool   // stream src.Uncompressed() with a known size
	Copy   bool   // stream src.Compressed() as stored (size and digest known)
	Stored bool   // a layer of a stored-form image: copied in the Docker 25+ form too
}

type Plan struct {
	Opts    Options
	Images  []*PlanImage
	Roots   []*PlanRoot
	Layers  []*PlanLayer
	ByDiff  map[v1.Hash]*PlanLayer
	ByID    map[v1.Hash]*PlanImage
	Indexes []*PlanIndex
	Arts    []*PlanArtifact
	ByArt   map[v1.Hash]*PlanArtifact
	TmpDir  string
}

func (o Options) oci() bool { return o.Format == OCIArchive || o.Format == OCILayout }

func (o Options) epoch() time.Time {
	if o.Epoch.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Epoch.Truncate(time.Second).UTC()
}

func (o Options) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	if o.Compression == tarball.Gzip {
		return 1 // pgzip already spreads one layer over every core; more layers only add memory
	}
	return runtime.GOMAXPROCS(0)
}

func NewPlan(imgs []item.Item, opts Options) (*Plan, error) {
	if len(imgs) == 0 {
		return nil, errors.New("no images to write")
	}
	switch opts.Compression {
	case tarball.None:
	case tarball.Gzip, tarball.Zstd:
		if opts.Format == Docker || opts.Format == DockerLegacy {
			return nil, fmt.Errorf("%s archives hold uncompressed layers; %s compression is only for OCI formats", opts.Format, opts.Compression)
		}
	default:
		return nil, fmt.Errorf("unsupported layer compression %s (use none, gzip or zstd)", opts.Compression)
	}
	p := &Plan{Opts: opts, ByDiff: map[v1.Hash]*PlanLayer{}, ByID: map[v1.Hash]*PlanImage{}, ByArt: map[v1.Hash]*PlanArtifact{}}
	for n, t := range imgs {
		if x, ok := AsArtifact(t.Image); ok {
			if !opts.oci() {
				return nil, fmt.Errorf("item %d: %s is %s, not an image: only OCI layouts and oci-archive carry artifacts", n, x.digest, x.what)
			}
			p.addRoot(&PlanRoot{Art: p.addArtifact(x), ArtEntry: x.EntryDescriptor(), Tags: t.Tags, RefNames: t.RefNames})
			continue
		}
		switch {
		case t.Index != nil && opts.Format == Docker && StoredForm(t.Index):
			r, err := p.storedIndexRoot(t)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", n, err)
			}
			p.addRoot(r)
		case t.Index != nil && !opts.oci():
			pis, err := IndexImages(t.Index)
			if err != nil {
				return nil, err
			}
			if len(pis) == 0 {
				return nil, fmt.Errorf("item %d: the index holds no runnable image", n)
			}
			first := hostFirst(pis)
			for i, pi := range pis {
				var tags []name.Tag
				if i == first {
					tags = t.Tags
				}
				wi, err := p.addImage(pi.Image)
				if err != nil {
					return nil, fmt.Errorf("platform %s: %w", platform.String(pi.Platform), err)
				}
				p.addRoot(&PlanRoot{Img: wi, Tags: tags})
			}
		case t.Index != nil:
			wx, err := p.addIndex(t.Index, 0)
			if err != nil {
				return nil, err
			}
			p.addRoot(&PlanRoot{Idx: wx, Tags: t.Tags, RefNames: t.RefNames})
		default:
			wi, err := p.addImage(t.Image)
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", n, err)
			}
			p.addRoot(&PlanRoot{Img: wi, Tags: t.Tags, RefNames: t.RefNames, Parent: t.Parent})
		}
	}
	return p, nil
}

// addRoot appends r, merging it into an earlier root for the same image or
// index.
func (p *Plan) addRoot(r *PlanRoot) {
	for _, o := range p.Roots {
		if (r.Img != nil && o.Img == r.Img) || (r.Idx != nil && o.Idx == r.Idx) || (r.Art != nil && o.Art == r.Art) {
			for _, tg := range r.Tags {
				if !ContainsTag(o.Tags, tg) {
					o.Tags = append(o.Tags, tg)
				}
			}
			for _, rn := range r.RefNames {
				if !ContainsString(o.RefNames, rn) {
					o.RefNames = append(o.RefNames, rn)
				}
			}
			return
		}
	}
	var tags []name.Tag
	for _, tg := range r.Tags {
		if !ContainsTag(tags, tg) {
			tags = append(tags, tg)
		}
	}
	r.Tags = tags
	p.Roots = append(p.Roots, r)
}

// addImage adds an image (once per config) and its distinct layers.
func (p *Plan) addImage(img v1.Image) (*PlanImage, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	id := imageid.FromBytes(raw)
	if wi, ok := p.ByID[id]; ok {
		return wi, nil
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: invalid config: %v", id, err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image %s: layers: %v", id, err)
	}
	if len(ls) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s: invalid manifest, layers length mismatch: expected %d, got %d", id, len(cf.RootFS.DiffIDs), len(ls))
	}
	if (p.Opts.Format == DockerLegacy || p.Opts.Format == Docker) && len(ls) == 0 {
		return nil, fmt.Errorf("image %s: empty export - not implemented", id)
	}
	wi := &PlanImage{Img: img, Raw: raw, ID: id, DiffIDs: cf.RootFS.DiffIDs, Layers: ls, Stored: StoredForm(img)}
	for i, d := range wi.DiffIDs {
		if _, ok := p.ByDiff[d]; !ok {
			wl := &PlanLayer{DiffID: d, Src: ls[i], Stored: wi.Stored}
			p.ByDiff[d] = wl
			p.Layers = append(p.Layers, wl)
		}
	}
	p.ByID[id] = wi
	p.Images = append(p.Images, wi)
	return wi, nil
}

// addIndex adds an index and everything it references. A child whose
// blobs are missing is an error naming its platform.
func (p *Plan) addIndex(idx v1.ImageIndex, depth int) (*PlanIndex, error) {
	if depth > MaxIndexDepth {
		return nil, fmt.Errorf("indexes nested more than %d deep", MaxIndexDepth)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid index: %v", err)
	}
	wx := &PlanIndex{Src: idx, Raw: raw, MT: mt, IM: im, Kids: make([]PlanKid, len(im.Manifests))}
	for i, d := range im.Manifests {
		if pr, ok := idx.(interface{ Present(v1.Hash) bool }); ok && !pr.Present(d.Digest) {
			continue // not in the store: the index is kept, the child left out
		}
		if d.MediaType.IsIndex() {
			sub, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if wx.Kids[i].Idx, err = p.addIndex(sub, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		what := "platform " + platform.String(d.Platform)
		if IsAttestation(d) {
			what = "attestation"
		}
		img, err := idx.Image(d.Digest)
		if errors.Is(err, ErrNotImage) {
			if c, ok := idx.(interface {
				Artifact(v1.Hash) (v1.Image, error)
			}); ok {
				img, err = c.Artifact(d.Digest)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", what, d.Digest, err)
		}
		if x, ok := AsArtifact(img); ok {
			wx.Kids[i].Art = p.addArtifact(x)
			continue
		}
		if wx.Kids[i].Img, err = p.addImage(img); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", what, d.Digest, err)
		}
	}
	p.Indexes = append(p.Indexes, wx)
	return wx, nil
}

// addArtifact adds an artifact (once per manifest digest) and its blobs,
// copied as stored.
func (p *Plan) addArtifact(x *Artifact) *PlanArtifact {
	if pa, ok := p.ByArt[x.digest]; ok {
		return pa
	}
	pa := &PlanArtifact{X: x, Raw: x.raw, MT: x.mt, D: x.digest}
	for _, b := range x.Blobs() {
		br := b.(*blobRef)
		d := br.desc
		pa.Blobs = append(pa.Blobs, &PlanLayer{DiffID: d.Digest, Src: b, Size: d.Size, Digest: d.Digest, MT: d.MediaType, Copy: true})
	}
	p.ByArt[x.digest] = pa
	p.Arts = append(p.Arts, pa)
	return pa
}

// storedIndexRoot is a stored-form index written whole in Docker 25+'s
// form, as Docker 29's save writes an image whose record targets an
// index: index.json names the index, manifest.json the host platform's
// image, which gets the tags.
func (p *Plan) storedIndexRoot(t item.Item) (*PlanRoot, error) {
	wx, err := p.addIndex(t.Index, 0)
	if err != nil {
		return nil, err
	}
	var imgs []*PlanImage
	var pis []item.Item
	for i, k := range wx.Kids {
		if d := wx.IM.Manifests[i]; k.Img != nil && !IsAttestation(d) {
			imgs = append(imgs, k.Img)
			pis = append(pis, item.Item{Platform: d.Platform})
		}
	}
	if len(imgs) == 0 {
		return nil, errors.New("the index holds no runnable image in the store")
	}
	return &PlanRoot{Idx: wx, Host: imgs[hostFirst(pis)], Tags: t.Tags, RefNames: t.RefNames}, nil
}

// StoredForm reports whether img (an image or index) is one whose ID is
// the digest of the manifest (or index) its store holds: the containerd store's, as
// Docker 29 names images. Such an image is written as stored (its manifest
// and compressed blobs, as docker save of Docker 29 does), so that a
// reload gives it the same ID; others are written as before.
func StoredForm(img any) bool {
	t, ok := img.(interface{ IDIsTarget() bool })
	return ok && t.IDIsTarget()
}

// layerCompression classifies a source layer's blob by media type: its
// compression, or opaque for blobs that are not layer tars.
func layerCompression(l v1.Layer) (c tarball.Compression, opaque bool) {
	mt, err := l.MediaType()
	if err != nil {
		return tarball.None, false
	}
	s := string(mt)
	switch {
	case mt == types.DockerLayer || mt == types.DockerForeignLayer || strings.HasSuffix(s, "+gzip") || strings.HasSuffix(s, ".tar.gzip"):
		return tarball.Gzip, false
	case strings.HasSuffix(s, "+zstd") || strings.HasSuffix(s, ".tar.zstd"):
		return tarball.Zstd, false
	case strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, ".tar.v1") || s == "":
		return tarball.None, false
	}
	return tarball.None, true
}

// ociLayerMT maps a copied blob's media type to the OCI equivalent.
func ociLayerMT(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return mediaTypeOCILayerGzip
	case mediaTypeDockerTar:
		return MediaTypeOCILayer
	}
	return mt
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
