package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/reference"
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

// ---- planning ----------------------------------------------------------------

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
			p.addRoot(&wRoot{img: wi, tags: t.Tags, refNames: t.RefNames})
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

func (p *plan) cleanup() {
	if p.tmpDir != "" {
		os.RemoveAll(p.tmpDir)
	}
}

func diffMismatch(d, got v1.Hash) error {
	return fmt.Errorf("layer %s: content does not match its diff_id (got %s)", d, got)
}

// prepare decides, for every layer, how its blob is produced, and makes
// the blobs that cannot be streamed (unknown size, or compression) into
// temp files, in parallel. dir is where temp files go ("" = a new temp dir).
func (p *plan) prepare(dir string) error {
	compress := p.opts.Compression != tarball.None && p.opts.oci() && !p.opts.Keep
	var todo []*wLayer
	for _, l := range p.layers {
		if p.opts.oci() {
			c, opaque := layerCompression(l.src)
			if opaque || c != tarball.None && (p.opts.Keep || c == p.opts.Compression) {
				var err error
				if l.size, err = l.src.Size(); err != nil {
					return fmt.Errorf("layer %s: %v", l.diffID, err)
				}
				if l.digest, err = l.src.Digest(); err != nil {
					return fmt.Errorf("layer %s: %v", l.diffID, err)
				}
				mt, _ := l.src.MediaType()
				l.copy, l.mt = true, ociLayerMT(mt)
				continue
			}
		}
		if !compress {
			if us, ok := l.src.(uncompressedSizer); ok {
				if n, ok := us.UncompressedSize(); ok {
					l.stream, l.size, l.digest, l.mt = true, n, l.diffID, mediaTypeOCILayer
					continue
				}
			}
		}
		todo = append(todo, l)
	}
	if len(todo) == 0 {
		return nil
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "imgtool-write-")
		if err != nil {
			return err
		}
		p.tmpDir = d
		dir = d
	}
	sem := make(chan struct{}, p.opts.jobs())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, l := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func(l *wLayer) {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			if compress {
				err = p.compressLayer(l, dir)
			} else {
				err = spoolLayer(l, dir)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(l)
	}
	wg.Wait()
	return firstErr
}

// openSpool makes the layer's temp file (removed with the plan's dir) and
// opens its uncompressed stream.
func (l *wLayer) openSpool(dir string) (*os.File, io.ReadCloser, error) {
	f, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		return nil, nil, err
	}
	l.tmp = f.Name()
	rc, err := l.src.Uncompressed()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	return f, rc, nil
}

// spoolLayer copies an uncompressed layer of unknown size to a temp file,
// checking its diff ID.
func spoolLayer(l *wLayer, dir string) error {
	f, rc, err := l.openSpool(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if got := sha256Hash(h); got != l.diffID {
		return diffMismatch(l.diffID, got)
	}
	l.size, l.digest, l.mt = n, l.diffID, mediaTypeOCILayer
	return f.Close()
}

// compressLayer makes the compressed blob in one pass: uncompressed →
// sha256 (diff ID check) → gzip/zstd → sha256 + count → temp file.
func (p *plan) compressLayer(l *wLayer, dir string) error {
	f, rc, err := l.openSpool(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rc.Close()
	ch := sha256.New()
	cw := &tarball.CountingWriter{W: io.MultiWriter(f, ch)}
	var zw io.WriteCloser
	switch p.opts.Compression {
	case tarball.Gzip:
		lvl := p.opts.Level
		if lvl == 0 {
			lvl = pgzip.DefaultCompression
		}
		g, err := pgzip.NewWriterLevel(cw, lvl)
		if err != nil {
			return fmt.Errorf("gzip level %d: %v", p.opts.Level, err)
		}
		if err := g.SetConcurrency(pgzipBlock, max(1, runtime.GOMAXPROCS(0))); err != nil {
			return err
		}
		zw, l.mt = g, mediaTypeOCILayerGzip
	case tarball.Zstd:
		zopts := []zstd.EOption{zstd.WithEncoderConcurrency(1)}
		if p.opts.Level != 0 {
			zopts = append(zopts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.opts.Level)))
		}
		z, err := zstd.NewWriter(cw, zopts...)
		if err != nil {
			return err
		}
		zw, l.mt = z, mediaTypeOCILayerZstd
	}
	uh := sha256.New()
	if _, err := io.Copy(io.MultiWriter(zw, uh), rc); err != nil {
		zw.Close()
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("layer %s: compressing: %v", l.diffID, err)
	}
	if got := sha256Hash(uh); got != l.diffID {
		return diffMismatch(l.diffID, got)
	}
	l.size, l.digest = cw.N, sha256Hash(ch)
	return f.Close()
}

// open returns the blob bytes of a prepared layer; for a streamed layer
// the returned check must be called after the bytes were consumed.
func (l *wLayer) open() (io.ReadCloser, func() error, error) {
	if l.copy {
		rc, err := l.src.Compressed()
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %v", l.diffID, err)
		}
		h := newHasher(l.digest.Algorithm)
		cr := &checkReader{r: io.TeeReader(rc, h)}
		check := func() error {
			if cr.n != l.size {
				return fmt.Errorf("layer blob %s: size %d does not match its descriptor (%d)", l.digest, cr.n, l.size)
			}
			if got := digestOf2(l.digest.Algorithm, h); got != l.digest {
				return fmt.Errorf("layer blob %s: content does not match its digest (got %s)", l.digest, got)
			}
			return nil
		}
		return struct {
			io.Reader
			io.Closer
		}{cr, rc}, check, nil
	}
	if !l.stream {
		f, err := os.Open(l.tmp)
		if err != nil {
			return nil, nil, err
		}
		return f, func() error { return nil }, nil
	}
	rc, err := l.src.Uncompressed()
	if err != nil {
		return nil, nil, fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	h := sha256.New()
	cr := &checkReader{r: io.TeeReader(rc, h)}
	check := func() error {
		if cr.n != l.size {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got %d", l.diffID, l.size, cr.n)
		}
		if got := sha256Hash(h); got != l.diffID {
			return diffMismatch(l.diffID, got)
		}
		return nil
	}
	return struct {
		io.Reader
		io.Closer
	}{cr, rc}, check, nil
}

type checkReader struct {
	r io.Reader
	n int64
}

func (c *checkReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ---- blobs shared by the OCI-based forms --------------------------------------

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

func layerDescs(p *plan, wi *wImage) []descriptor {
	out := make([]descriptor, len(wi.diffIDs))
	for i, d := range wi.diffIDs {
		l := p.byDiff[d]
		out[i] = descriptor{MediaType: l.mt, Digest: l.digest, Size: l.size}
	}
	return out
}

// keptManifest returns the source manifest of wi when the output blobs
// are exactly the ones it names, so it can be written unchanged.
func keptManifest(wi *wImage, descs []descriptor) ([]byte, types.MediaType, bool) {
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
		if d.Digest != descs[i].Digest || d.Size != descs[i].Size {
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
	var doc struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType,omitempty"`
		ArtifactType  string            `json:"artifactType,omitempty"`
		Manifests     []json.RawMessage `json:"manifests"`
		Subject       json.RawMessage   `json:"subject,omitempty"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}
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
	idx := ociIndex{SchemaVersion: 2, MediaType: mediaTypeOCIIndex, Manifests: []descriptor{}}
	type dockerItem struct {
		Config       string
		RepoTags     []string
		Layers       []string
		Parent       string                       `json:",omitempty"`
		LayerSources map[v1.Hash]dockerDescriptor `json:",omitempty"`
	}
	var items []dockerItem
	repos := map[string]map[string]string{}
	for _, wi := range p.images {
		add(blob{name: blobName(wi.id), data: wi.raw})
		for _, d := range wi.diffIDs {
			l := p.byDiff[d]
			add(blob{name: blobName(l.digest), layer: l})
		}
		descs := layerDescs(p, wi)
		if raw, mt, ok := keptManifest(wi, descs); ok && !docker {
			wi.man, wi.manMT = raw, mt
		} else {
			m := ociManifest{
				SchemaVersion: 2,
				MediaType:     mediaTypeOCIManifest,
				Config:        descriptor{MediaType: mediaTypeOCIConfig, Digest: wi.id, Size: int64(len(wi.raw))},
				Layers:        descs,
			}
			mb, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			wi.man, wi.manMT = mb, mediaTypeOCIManifest
		}
		wi.manD = imageid.FromBytes(wi.man)
		add(blob{name: blobName(wi.manD), data: wi.man})
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
	for _, r := range p.roots {
		var rdesc descriptor
		if r.img != nil {
			rdesc = descriptor{MediaType: r.img.manMT, Digest: r.img.manD, Size: int64(len(r.img.man))}
		} else {
			rdesc = descriptor{MediaType: r.idx.mt, Digest: r.idx.outD, Size: int64(len(r.idx.out))}
		}
		n := 0
		for _, t := range r.tags {
			d := rdesc
			d.Annotations = map[string]string{
				annotationContainerdName: reference.FullyQualified(t),
				annotationRefName:        t.TagStr(),
			}
			idx.Manifests = append(idx.Manifests, d)
			n++
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
			idx.Manifests = append(idx.Manifests, d)
			n++
		}
		if n == 0 {
			idx.Manifests = append(idx.Manifests, rdesc)
		}
		if docker && r.img != nil {
			wi := r.img
			it := dockerItem{Config: "blobs/sha256/" + wi.id.Hex, LayerSources: map[v1.Hash]dockerDescriptor{}}
			for _, t := range r.tags {
				it.RepoTags = append(it.RepoTags, reference.Familiar(t))
				fn := reference.FamiliarName(t)
				if repos[fn] == nil {
					repos[fn] = map[string]string{}
				}
				repos[fn][t.TagStr()] = wi.diffIDs[len(wi.diffIDs)-1].Hex
			}
			it.Layers = []string{}
			for _, d := range wi.diffIDs {
				l := p.byDiff[d]
				it.Layers = append(it.Layers, "blobs/sha256/"+d.Hex)
				it.LayerSources[d] = dockerDescriptor{MediaType: mediaTypeOCILayer, Size: l.size, Digest: d}
			}
			items = append(items, it)
		}
	}
	sort.Slice(o.blobs, func(i, j int) bool { return o.blobs[i].name < o.blobs[j].name })
	var err error
	if o.index, err = json.Marshal(idx); err != nil {
		return nil, err
	}
	if docker {
		if o.manifestJS, err = encodeLine(items); err != nil {
			return nil, err
		}
		if len(repos) > 0 {
			if o.repos, err = encodeLine(repos); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

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

// ---- tar output ---------------------------------------------------------------

type tarOut struct {
	tw    *tar.Writer
	epoch time.Time
}

func (t *tarOut) dir(name string) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: t.epoch})
}

func (t *tarOut) file(name string, b []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: t.epoch}); err != nil {
		return err
	}
	_, err := t.tw.Write(b)
	return err
}

func (t *tarOut) symlink(name, target string) error {
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: t.epoch})
}

func (t *tarOut) layer(name string, l *wLayer) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: l.size, ModTime: t.epoch}); err != nil {
		return err
	}
	rc, check, err := l.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(t.tw, io.LimitReader(rc, l.size))
	if err != nil {
		return fmt.Errorf("layer %s: %v", l.diffID, err)
	}
	if l.stream || l.copy {
		// detect a source longer than announced
		var one [1]byte
		if m, _ := io.ReadFull(rc, one[:]); m > 0 {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got more", l.diffID, l.size)
		}
		if n != l.size {
			return fmt.Errorf("layer %s: uncompressed size changed: expected %d bytes, got %d", l.diffID, l.size, n)
		}
	}
	return check()
}

// Write writes imgs to w as one archive in opts.Format (Docker, DockerLegacy
// or OCIArchive). The output is deterministic: entries sorted, modes
// 0644/0755, owner 0:0 with no names, mtime opts.Epoch. Layers whose diff ID
// repeats are written once. A layer whose content does not match its
// diff_id fails the write after its bytes were written; the caller removes
// the partial output.
func Write(w io.Writer, imgs []item.Item, opts Options) error {
	if opts.Format == OCILayout {
		return errors.New("the OCI layout format is a directory: use WriteLayout")
	}
	p, err := newPlan(imgs, opts)
	if err != nil {
		return err
	}
	defer p.cleanup()
	if err := p.prepare(""); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20) // headers and small blobs: not one write(2) each
	t := &tarOut{tw: tar.NewWriter(bw), epoch: opts.epoch()}
	switch opts.Format {
	case Docker, OCIArchive:
		err = writeOCITar(t, p, opts.Format == Docker)
	case DockerLegacy:
		err = writeLegacy(t, p)
	default:
		err = fmt.Errorf("unknown format %v", opts.Format)
	}
	if err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

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

// writeLegacy writes Docker 20.10's save format.
func writeLegacy(t *tarOut, p *plan) error {
	type v1dir struct {
		json    []byte
		layer   *wLayer
		symlink string // target, when the diff ID was written under another dir
	}
	dirs := map[string]*v1dir{}
	files := map[string][]byte{}
	writtenDiff := map[v1.Hash]string{} // diff ID → v1 id holding the real layer.tar
	type item struct {
		Config   string
		RepoTags []string
		Layers   []string
		Parent   string `json:",omitempty"`
	}
	var items []item
	repos := map[string]map[string]string{}
	for _, r := range p.roots {
		wi := r.img
		chain, err := legacyV1Chain(wi.raw, wi.diffIDs)
		if err != nil {
			return fmt.Errorf("image %s: %v", wi.id, err)
		}
		it := item{Config: wi.id.Hex + ".json"}
		files[it.Config] = wi.raw
		for i, c := range chain {
			it.Layers = append(it.Layers, c.id+"/layer.tar")
			if _, ok := dirs[c.id]; ok {
				continue
			}
			d := &v1dir{json: c.json}
			if holder, ok := writtenDiff[wi.diffIDs[i]]; ok {
				d.symlink = "../" + holder + "/layer.tar"
			} else {
				d.layer = p.byDiff[wi.diffIDs[i]]
				writtenDiff[wi.diffIDs[i]] = c.id
			}
			dirs[c.id] = d
		}
		top := chain[len(chain)-1].id
		for _, tg := range r.tags {
			it.RepoTags = append(it.RepoTags, reference.Familiar(tg))
			fn := reference.FamiliarName(tg)
			if repos[fn] == nil {
				repos[fn] = map[string]string{}
			}
			repos[fn][tg.TagStr()] = top
		}
		items = append(items, it)
	}
	// every top-level name, sorted: <config>.json files and <v1id>/ dirs
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for n := range dirs {
		names = append(names, n+"/")
	}
	sort.Strings(names)
	for _, n := range names {
		if b, ok := files[n]; ok {
			if err := t.file(n, b); err != nil {
				return err
			}
			continue
		}
		id := n[:len(n)-1]
		d := dirs[id]
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
	mj, err := encodeLine(items)
	if err != nil {
		return err
	}
	if err := t.file("manifest.json", mj); err != nil {
		return err
	}
	if len(repos) > 0 {
		rb, err := encodeLine(repos)
		if err != nil {
			return err
		}
		return t.file("repositories", rb)
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
