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
	// The Docker forms always hold uncompressed layers.
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
}

// uncompressedSizer is implemented by layers that know the size of their
// uncompressed tar without reading it (store layers, uncompressed archive
// layers).
type uncompressedSizer interface {
	UncompressedSize() (int64, bool)
}

// pgzipBlock is the fixed pgzip block size: output depends only on the
// input, level and this size, not on the number of goroutines.
const pgzipBlock = 1 << 20

type wImage struct {
	img     v1.Image
	raw     []byte
	id      v1.Hash
	diffIDs []v1.Hash
	layers  []v1.Layer

	// output manifest (set by buildOCI)
	man   []byte
	manMT types.MediaType
	manD  v1.Hash
}

// wIndex is an image index to write whole (OCI forms).
type wIndex struct {
	src  v1.ImageIndex
	raw  []byte
	mt   types.MediaType
	im   *v1.IndexManifest
	kids []wKid // parallel to im.Manifests

	out  []byte // output bytes (set by buildOCI)
	outD v1.Hash
}

type wKid struct {
	img *wImage
	idx *wIndex
}

// wRoot is one item of index.json / manifest.json.
type wRoot struct {
	img      *wImage
	idx      *wIndex
	tags     []name.Tag
	refNames []string
	parent   v1.Hash // the item's Parent image ID (docker save forms)
}

// wLayer is one distinct layer (by diff ID) to write.
type wLayer struct {
	diffID v1.Hash
	src    v1.Layer

	// result of preparing: where the blob bytes come from
	size   int64   // blob size
	digest v1.Hash // blob digest
	mt     types.MediaType
	tmp    string // spooled/compressed blob file; "" when streamed
	stream bool   // stream src.Uncompressed() with a known size
	copy   bool   // stream src.Compressed() as stored (size and digest known)
}

type plan struct {
	opts    Options
	images  []*wImage
	roots   []*wRoot
	layers  []*wLayer
	byDiff  map[v1.Hash]*wLayer
	byID    map[v1.Hash]*wImage
	indexes []*wIndex
	tmpDir  string
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

func newPlan(imgs []item.Item, opts Options) (*plan, error) {
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
	p := &plan{opts: opts, byDiff: map[v1.Hash]*wLayer{}, byID: map[v1.Hash]*wImage{}}
	for n, t := range imgs {
		switch {
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
				p.addRoot(&wRoot{img: wi, tags: tags})
			}
		case t.Index != nil:
			wx, err := p.addIndex(t.Index, 0)
			if err != nil {
				return nil, err
			}
			p.addRoot(&wRoot{idx: wx, tags: t.Tags, refNames: t.RefNames})
		default:
			wi, err := p.addImage(t.Image)
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", n, err)
			}
			p.addRoot(&wRoot{img: wi, tags: t.Tags, refNames: t.RefNames, parent: t.Parent})
		}
	}
	return p, nil
}

// addRoot appends r, merging it into an earlier root for the same image or
// index.
func (p *plan) addRoot(r *wRoot) {
	for _, o := range p.roots {
		if (r.img != nil && o.img == r.img) || (r.idx != nil && o.idx == r.idx) {
			for _, tg := range r.tags {
				if !containsTag(o.tags, tg) {
					o.tags = append(o.tags, tg)
				}
			}
			for _, rn := range r.refNames {
				if !containsString(o.refNames, rn) {
					o.refNames = append(o.refNames, rn)
				}
			}
			return
		}
	}
	var tags []name.Tag
	for _, tg := range r.tags {
		if !containsTag(tags, tg) {
			tags = append(tags, tg)
		}
	}
	r.tags = tags
	p.roots = append(p.roots, r)
}

// addImage adds an image (once per config) and its distinct layers.
func (p *plan) addImage(img v1.Image) (*wImage, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	id := imageid.FromBytes(raw)
	if wi, ok := p.byID[id]; ok {
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
	if (p.opts.Format == DockerLegacy || p.opts.Format == Docker) && len(ls) == 0 {
		return nil, fmt.Errorf("image %s: empty export - not implemented", id)
	}
	wi := &wImage{img: img, raw: raw, id: id, diffIDs: cf.RootFS.DiffIDs, layers: ls}
	for i, d := range wi.diffIDs {
		if _, ok := p.byDiff[d]; !ok {
			wl := &wLayer{diffID: d, src: ls[i]}
			p.byDiff[d] = wl
			p.layers = append(p.layers, wl)
		}
	}
	p.byID[id] = wi
	p.images = append(p.images, wi)
	return wi, nil
}

// addIndex adds an index and everything it references. A child whose
// blobs are missing is an error naming its platform.
func (p *plan) addIndex(idx v1.ImageIndex, depth int) (*wIndex, error) {
	if depth > maxIndexDepth {
		return nil, fmt.Errorf("indexes nested more than %d deep", maxIndexDepth)
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
	wx := &wIndex{src: idx, raw: raw, mt: mt, im: im, kids: make([]wKid, len(im.Manifests))}
	for i, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			sub, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if wx.kids[i].idx, err = p.addIndex(sub, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		what := "platform " + platform.String(d.Platform)
		if IsAttestation(d) {
			what = "attestation"
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", what, d.Digest, err)
		}
		if wx.kids[i].img, err = p.addImage(img); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", what, d.Digest, err)
		}
	}
	p.indexes = append(p.indexes, wx)
	return wx, nil
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
		return mediaTypeOCILayer
	}
	return mt
}
