package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
)

// PushResult describes a finished push.
type PushResult struct {
	Ref       string           `json:"ref"`
	Digest    v1.Hash          `json:"digest"`
	MediaType types.MediaType  `json:"mediaType"`
	Size      int64            `json:"size"`
	Layers    []PushedLayer    `json:"layers"`
	Manifests []PushedManifest `json:"manifests,omitempty"` // an index's images
}

// PushedLayer is one distinct layer blob of the push.
type PushedLayer struct {
	Digest    v1.Hash         `json:"digest"`
	DiffID    v1.Hash         `json:"diff_id"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
	// Status: "pushed" (uploaded), "exists" (the repository had it) or
	// "mounted" (from another repository of the registry).
	Status string `json:"status"`
	From   string `json:"from,omitempty"` // repository mounted from
}

// PushedManifest is an image manifest pushed as part of an index.
type PushedManifest struct {
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	Size      int64           `json:"size"`
	Config    v1.Hash         `json:"config"` // the image ID
	Platform  *v1.Platform    `json:"platform,omitempty"`
}

// Push uploads img and tags it ref (a tag, or a digest that must match).
// Layers whose blobs are compressed are pushed as they are and the image's
// own manifest is kept (its digest does not change). Uncompressed layers
// (store images, docker save archives) are gzipped once each (GzipLayer)
// and the image gets a new Docker schema 2 manifest around the unchanged
// config, so the image ID stays the same. Blobs the repository has are
// not uploaded; with Options.DataRoot, layers pushed or pulled before are
// not even compressed, and are mounted from other repositories of the
// same registry.
func Push(ctx context.Context, ref string, img v1.Image, opts Options) (*PushResult, error) {
	s, err := newSession(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	ip, err := s.planImage(img, nil)
	if err != nil {
		return nil, describe("push", ref, err)
	}
	return s.run(func(*PushResult) ([]byte, types.MediaType, error) {
		err := s.finishImage(ip)
		return ip.raw, ip.mt, err
	})
}

// PushIndex uploads a multi-platform index and every image in it; an
// image that needs its layers compressed gets a new manifest and the index
// a new digest, otherwise the index is pushed byte for byte.
func PushIndex(ctx context.Context, ref string, idx v1.ImageIndex, opts Options) (*PushResult, error) {
	s, err := newSession(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	xp, err := s.planIndex(idx)
	if err != nil {
		return nil, describe("push", ref, err)
	}
	return s.runIndex(xp)
}

// PushItems pushes image items: one is pushed as an image; several are
// pushed as an OCI index listing each with its platform (every item must
// then have one).
func PushItems(ctx context.Context, ref string, entries []item.Item, opts Options) (*PushResult, error) {
	switch len(entries) {
	case 0:
		return nil, fmt.Errorf("push %s: no image to push", ref)
	case 1:
		return Push(ctx, ref, entries[0].Image, opts)
	}
	s, err := newSession(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	xp := &idxPlan{mt: types.OCIImageIndex}
	for _, e := range entries {
		if e.Platform == nil {
			return nil, fmt.Errorf("push %s: the source holds %d images; only images with a platform can be pushed as one index (push them one by one)", ref, len(entries))
		}
		ip, err := s.planImage(e.Image, e.Platform)
		if err != nil {
			return nil, describe("push", ref, err)
		}
		ip.flavor = types.OCIManifestSchema1
		xp.children = append(xp.children, idxChild{desc: v1.Descriptor{Platform: e.Platform}, img: ip})
	}
	return s.runIndex(xp)
}

func (s *session) runIndex(xp *idxPlan) (*PushResult, error) {
	return s.run(func(res *PushResult) ([]byte, types.MediaType, error) {
		err := s.finishIndex(xp, res)
		return xp.raw, xp.mt, err
	})
}

type session struct {
	ctx  context.Context
	opts Options
	ref  name.Reference
	repo name.Repository
	p    *remote.Pusher
	meta *distMeta
	tmp  string

	clientOnce sync.Once
	client     *http.Client
	clientErr  error

	mu      sync.Mutex
	byKey   map[string]*pushLayer
	layers  []*pushLayer
	configs map[v1.Hash]*configBlob
	mounts  map[string]bool // candidate source repositories (for token scopes)
}

func newSession(ctx context.Context, ref string, opts Options) (*session, error) {
	r, err := ParseReference(ref, opts)
	if err != nil {
		return nil, err
	}
	opts, err = opts.withWire(r.Context().RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	ro, err := opts.remoteOptions(ctx, r.Context().RegistryStr())
	if err != nil {
		return nil, err
	}
	p, err := remote.NewPusher(ro...)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "imgtool-push-")
	if err != nil {
		return nil, err
	}
	meta := openDistMeta(opts.DataRoot)
	if meta != nil {
		meta.key = hmacKey(opts.credentials(ctx, r.Context()))
	}
	return &session{
		ctx: ctx, opts: opts, ref: r, repo: r.Context(), p: p, meta: meta, tmp: tmp,
		byKey: map[string]*pushLayer{}, configs: map[v1.Hash]*configBlob{}, mounts: map[string]bool{},
	}, nil
}

func (s *session) close() { os.RemoveAll(s.tmp) }

// pushLayer is one distinct layer of the push.
type pushLayer struct {
	src      v1.Layer
	compress bool
	artifact bool // an artifact's blob: no diff ID, no distribution metadata
	diffID   v1.Hash
	// resolved
	digest v1.Hash
	size   int64
	mt     types.MediaType
	status string
	from   string
}

type configBlob struct {
	raw []byte
	mt  types.MediaType
}

type imgPlan struct {
	img      v1.Image
	platform *v1.Platform
	config   []byte
	layers   []*pushLayer
	srcDescs []v1.Descriptor // the source manifest's layer descriptors, nil if none
	rewrite  bool            // a layer is compressed here: new manifest
	flavor   types.MediaType // manifest type to write when rewriting ("" = decide)
	// result
	raw []byte
	mt  types.MediaType
}

type idxChild struct {
	desc v1.Descriptor
	img  *imgPlan
	idx  *idxPlan
	art  *archive.Artifact // pushed unchanged
}

type idxPlan struct {
	src      v1.ImageIndex // nil for a synthesized index
	mt       types.MediaType
	children []idxChild
	raw      []byte
}

func uncompressedMT(mt types.MediaType) bool {
	switch mt {
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer, "":
		return true
	}
	return false
}

func (s *session) planImage(img v1.Image, platform *v1.Platform) (*imgPlan, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid image config: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(ls) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("invalid image: %d layers for %d diff_ids", len(ls), len(cf.RootFS.DiffIDs))
	}
	ip := &imgPlan{img: img, platform: platform, config: raw}
	cmt := types.DockerConfigJSON
	if m, err := img.Manifest(); err == nil && m != nil {
		if len(m.Layers) == len(ls) {
			ip.srcDescs = m.Layers
		}
		if m.Config.MediaType != "" {
			cmt = m.Config.MediaType
		}
	}
	cd := imageid.FromBytes(raw)
	s.mu.Lock()
	if _, ok := s.configs[cd]; !ok {
		s.configs[cd] = &configBlob{raw: raw, mt: cmt}
	}
	s.mu.Unlock()
	for i, l := range ls {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		pl := &pushLayer{src: l, diffID: cf.RootFS.DiffIDs[i], mt: mt}
		var key string
		if uncompressedMT(mt) {
			pl.compress = true
			ip.rewrite = true
			key = "diff:" + pl.diffID.String()
			if d, err := l.DiffID(); err == nil && d != pl.diffID {
				return nil, fmt.Errorf("layer %d: diff ID %s does not match the config's %s", i, d, pl.diffID)
			}
		} else {
			d, err := l.Digest()
			if err != nil {
				return nil, err
			}
			key = "blob:" + d.String()
		}
		s.mu.Lock()
		if prev, ok := s.byKey[key]; ok {
			pl = prev
		} else {
			s.byKey[key] = pl
			s.layers = append(s.layers, pl)
			if pl.compress {
				_, other := s.meta.candidates(pl.diffID, s.repo)
				for _, c := range other {
					s.mounts[c.SourceRepository] = true
				}
			}
		}
		s.mu.Unlock()
		ip.layers = append(ip.layers, pl)
	}
	return ip, nil
}

func (s *session) planIndex(idx v1.ImageIndex) (*idxPlan, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, err
	}
	xp := &idxPlan{src: idx, mt: mt}
	flavor := types.OCIManifestSchema1
	if mt == types.DockerManifestList {
		flavor = types.DockerManifestSchema2
	}
	for _, d := range im.Manifests {
		c := idxChild{desc: d}
		switch {
		case d.MediaType.IsIndex():
			sub, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if c.idx, err = s.planIndex(sub); err != nil {
				return nil, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if errors.Is(err, archive.ErrNotImage) {
				if c.art, err = s.planChildArtifact(idx, d.Digest); err != nil {
					return nil, err
				}
				break
			}
			if err != nil {
				return nil, err
			}
			if c.img, err = s.planImage(img, d.Platform); err != nil {
				return nil, fmt.Errorf("image %s: %w", d.Digest, err)
			}
			c.img.flavor = flavor
		default:
			if c.art, err = s.planChildArtifact(idx, d.Digest); err != nil {
				return nil, err
			}
		}
		xp.children = append(xp.children, c)
	}
	return xp, nil
}

// run uploads every layer and config, then the manifests bottom-up
// (finish makes them and gives the top one's bytes).
func (s *session) run(finish func(*PushResult) ([]byte, types.MediaType, error)) (*PushResult, error) {
	ref := s.ref.String()
	if err := s.uploadBlobs(); err != nil {
		return nil, describe("push", ref, err)
	}
	res := &PushResult{Ref: ref}
	raw, mt, err := finish(res)
	if err != nil {
		return nil, describe("push", ref, err)
	}
	dg := imageid.FromBytes(raw)
	if d, ok := s.ref.(name.Digest); ok && d.DigestStr() != dg.String() {
		return nil, fmt.Errorf("push %s: the manifest to push has digest %s, not the one named", ref, dg)
	}
	if err := s.putManifest(s.ref, raw, mt); err != nil {
		return nil, describe("push", ref, err)
	}
	res.Digest, res.MediaType, res.Size = dg, mt, int64(len(raw))
	for _, l := range s.layers {
		res.Layers = append(res.Layers, PushedLayer{Digest: l.digest, DiffID: l.diffID, Size: l.size, MediaType: l.mt, Status: l.status, From: l.from})
	}
	// Only a complete push is recorded (so a failed one changes nothing).
	for _, l := range s.layers {
		if !l.artifact && (l.compress || strings.Contains(string(l.mt), "gzip")) {
			if err := s.meta.add(l.diffID, l.digest, s.repo); err != nil {
				return res, fmt.Errorf("push %s: pushed, but recording distribution metadata failed: %v", ref, err)
			}
		}
	}
	return res, nil
}

func (s *session) uploadBlobs() error {
	g, ctx := errgroup.WithContext(s.ctx)
	g.SetLimit(s.opts.jobs())
	for _, l := range s.layers {
		g.Go(func() error { return s.uploadLayer(ctx, l) })
	}
	for d, c := range s.configs {
		g.Go(func() error {
			return s.p.Upload(ctx, s.repo, &staticBlob{raw: c.raw, mt: c.mt, digest: d})
		})
	}
	return g.Wait()
}

func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Hex[:12]
	}
	return h.Hex
}

func (s *session) uploadLayer(ctx context.Context, l *pushLayer) error {
	if !l.compress {
		d, err := l.src.Digest()
		if err != nil {
			return err
		}
		size, err := l.src.Size()
		if err != nil {
			return err
		}
		l.digest, l.size = d, size
		return s.upload(ctx, l, l.src)
	}
	same, other := s.meta.candidates(l.diffID, s.repo)
	for _, c := range same {
		ok, size, err := s.headBlob(ctx, c.Digest)
		if err != nil {
			return err
		}
		if ok {
			l.digest, l.size, l.mt, l.status = c.Digest, size, types.DockerLayer, "exists"
			s.opts.logf("%s: Layer already exists", short(l.diffID))
			return nil
		}
	}
	for _, c := range other {
		ok, err := s.mountBlob(ctx, c.Digest, c.SourceRepository)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		found, size, err := s.headBlob(ctx, c.Digest)
		if err != nil {
			return err
		}
		if found {
			from, _ := name.NewRepository(c.SourceRepository)
			l.digest, l.size, l.mt, l.status, l.from = c.Digest, size, types.DockerLayer, "mounted", from.RepositoryStr()
			s.opts.logf("%s: Mounted from %s", short(l.diffID), l.from)
			return nil
		}
	}
	s.opts.logf("%s: Preparing", short(l.diffID))
	gl, err := CompressLayer(compressProgress(l.src, s.opts.Progress, short(l.diffID)), s.tmp, 0)
	if err != nil {
		return err
	}
	defer gl.Remove()
	l.digest, l.size, l.mt = gl.digest, gl.size, gl.mt
	return s.upload(ctx, l, gl)
}

// upload pushes blob unless the repository has it.
func (s *session) upload(ctx context.Context, l *pushLayer, blob v1.Layer) error {
	ok, _, err := s.headBlob(ctx, l.digest)
	if err != nil {
		return err
	}
	if ok {
		l.status = "exists"
		s.opts.logf("%s: Layer already exists", short(l.diffID))
		return nil
	}
	if err := s.p.Upload(ctx, s.repo, uploadProgress(blob, s.opts.Progress, short(l.diffID))); err != nil {
		return err
	}
	l.status = "pushed"
	if ml, ok := blob.(*remote.MountableLayer); ok && ml.Reference.Context().RegistryStr() == s.repo.RegistryStr() &&
		ml.Reference.Context().RepositoryStr() != s.repo.RepositoryStr() {
		l.status, l.from = "mounted", ml.Reference.Context().RepositoryStr() // ggcr tried a mount first
	}
	s.opts.logf("%s: Pushed", short(l.diffID))
	return nil
}
