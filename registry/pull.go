package registry

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/tarball"
)

// Remote is a reference resolved in a registry: its manifest (or index)
// has been fetched, nothing else. Images() has the shape of
// archive.Archive.Images(), so transfer.Load and archive.Write take it as
// they take an archive. Layer blobs are fetched only when a consumer reads
// them (transfer.Load never reads the layers the store already has), and
// every blob is checked against its digest and size as it streams.
type Remote struct {
	Ref       name.Reference
	Digest    v1.Hash         // digest of the manifest or index Ref resolved to
	MediaType types.MediaType // its media type
	Size      int64

	entries []item.Item
	images  []*pullImage
	opts    Options
}

// Images returns the selected images: the one image of a plain manifest,
// or the platforms chosen from an index (Options.Platforms, the host's by
// default, or all with Options.AllPlatforms), in index order.
func (r *Remote) Images() []item.Item { return r.entries }

// Close releases nothing today; it exists so a Remote can be handled like
// an *archive.Archive.
func (r *Remote) Close() error { return nil }

// Record stores Docker's distribution metadata for the pulled layers
// (diff ID -> blob digest in this repository) under Options.DataRoot, so a
// later push of these images to this registry skips or mounts them. Call
// it after the images were loaded.
func (r *Remote) Record() error {
	m := openDistMeta(r.opts.DataRoot)
	if m == nil {
		return nil
	}
	for _, pi := range r.images {
		if pi.layers == nil {
			continue
		}
		for _, l := range pi.layers {
			if !strings.Contains(string(l.desc.MediaType), "gzip") {
				continue // what dockerd's push reuses: gzip blobs
			}
			if err := m.add(l.diffID, l.desc.Digest, r.Ref.Context()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Source resolves ref in its registry. Errors are one line and name ref:
// unauthorized, denied, manifest unknown, unreachable registry.
func Source(ctx context.Context, ref string, opts Options) (*Remote, error) {
	r, err := ParseReference(ref, opts)
	if err != nil {
		return nil, err
	}
	ro, err := opts.remoteOptions(ctx, r.Context().RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return nil, describe("pull", ref, err)
	}
	out := &Remote{Ref: r, Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size, opts: opts}
	var tags []name.Tag
	if t, ok := r.(name.Tag); ok {
		tags = []name.Tag{t}
	}
	add := func(img v1.Image, d v1.Hash, p *v1.Platform) {
		pi := &pullImage{Image: img, ref: ref, ctx: ctx, backoff: opts.backoff(),
			refetch: func() (v1.Image, error) { return remote.Image(r.Context().Digest(d.String()), ro...) }}
		out.images = append(out.images, pi)
		out.entries = append(out.entries, item.Item{Image: pi, Tags: tags, Platform: p, Digest: d})
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, describe("pull", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, describe("pull", ref, err)
		}
		chosen, err := choosePlatforms(im.Manifests, opts)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		for _, d := range chosen {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, describe("pull", ref, err)
			}
			add(img, d.Digest, d.Platform)
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, describe("pull", ref, err)
		}
		add(img, desc.Digest, nil)
	case desc.MediaType.IsSchema1():
		return nil, fmt.Errorf("pull %s: schema 1 manifests (%s) are not supported; push the image again with a current client", ref, desc.MediaType)
	default:
		return nil, fmt.Errorf("pull %s: %s is not an image (media type %s)", ref, desc.Digest, desc.MediaType)
	}
	// Fetch configs now, so a bad one fails before anything is extracted.
	for _, pi := range out.images {
		if _, err := pi.Layers(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// choosePlatforms picks, for every wanted platform in order, the first
// image of the index that matches it.
func choosePlatforms(descs []v1.Descriptor, opts Options) ([]v1.Descriptor, error) {
	var images []v1.Descriptor
	for _, d := range descs {
		if d.MediaType.IsImage() || d.MediaType == "" {
			if d.Platform != nil && d.Platform.OS == "unknown" {
				continue // buildx attestations
			}
			images = append(images, d)
		}
	}
	if opts.AllPlatforms {
		if len(images) == 0 {
			return nil, fmt.Errorf("index has no image manifests")
		}
		return images, nil
	}
	wanted := opts.Platforms
	if len(wanted) == 0 {
		wanted = []v1.Platform{platform.Host()}
	}
	var out []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, w := range wanted {
		found := false
		for _, d := range images {
			if d.Platform != nil && platform.Matches(*d.Platform, []v1.Platform{w}) {
				if !seen[d.Digest] {
					seen[d.Digest] = true
					out = append(out, d)
				}
				found = true
				break
			}
		}
		if !found {
			var have []string
			for _, d := range images {
				if d.Platform != nil {
					have = append(have, platform.String(d.Platform))
				}
			}
			return nil, fmt.Errorf("no matching manifest for %s in the manifest list entries (available: %s)", platform.String(&w), strings.Join(have, ", "))
		}
	}
	return out, nil
}

// pullImage is a remote image whose layers verify and decompress here.
type pullImage struct {
	v1.Image
	ref     string
	ctx     context.Context //nolint:containedctx // the pull's, for resuming blob reads
	backoff remote.Backoff
	refetch func() (v1.Image, error) // the image anew, from its manifest digest
	layers  []*pullLayer
}

func (pi *pullImage) Layers() ([]v1.Layer, error) {
	if pi.layers == nil {
		m, err := pi.Image.Manifest()
		if err != nil {
			return nil, describe("pull", pi.ref, err)
		}
		cf, err := pi.ConfigFile()
		if err != nil {
			return nil, describe("pull", pi.ref, err)
		}
		rls, err := pi.Image.Layers()
		if err != nil {
			return nil, describe("pull", pi.ref, err)
		}
		if len(m.Layers) != len(cf.RootFS.DiffIDs) || len(rls) != len(m.Layers) {
			return nil, fmt.Errorf("pull %s: invalid manifest: %d layers for %d diff_ids in the config", pi.ref, len(m.Layers), len(cf.RootFS.DiffIDs))
		}
		ls := make([]*pullLayer, len(m.Layers))
		for i, d := range m.Layers {
			ls[i] = &pullLayer{remote: rls[i], desc: d, diffID: cf.RootFS.DiffIDs[i], ref: pi.ref, ctx: pi.ctx, backoff: pi.backoff}
		}
		pi.layers = ls
	}
	out := make([]v1.Layer, len(pi.layers))
	for i, l := range pi.layers {
		out[i] = l
	}
	return out, nil
}

func (pi *pullImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	ls, err := pi.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if d, _ := l.Digest(); d == h {
			return l, nil
		}
	}
	return pi.Image.LayerByDigest(h) // the config
}

func (pi *pullImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	ls, err := pi.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if d, _ := l.DiffID(); d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer with diff ID %s", h)
}

// pullLayer is a layer blob in a registry, fetched on first read.
type pullLayer struct {
	remote  v1.Layer
	desc    v1.Descriptor
	diffID  v1.Hash
	ref     string
	ctx     context.Context //nolint:containedctx // see pullImage
	backoff remote.Backoff
}

var _ v1.Layer = (*pullLayer)(nil)

func (l *pullLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *pullLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *pullLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *pullLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed streams the blob, fetched again from where it broke off if
// the connection drops (resumingReader); the read that reaches its end
// fails if the bytes do not match the descriptor's digest and size.
func (l *pullLayer) Compressed() (io.ReadCloser, error) {
	first, err := l.remote.Compressed()
	if err != nil {
		return nil, describePrefixed("pull", l.ref, "fetching blob "+l.desc.Digest.String()+": ", err)
	}
	ctx := l.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	rc := &resumingReader{ctx: ctx, open: l.remote.Compressed, rc: first, backoff: l.backoff}
	return &blobReader{rc: rc, hr: tarball.NewHashingReader(rc), l: l}, nil
}

// Uncompressed decompresses the verified blob (gzip with pgzip, zstd,
// or none); the diff ID is the consumer's to check (transfer.Load and
// archive.Write do).
func (l *pullLayer) Uncompressed() (io.ReadCloser, error) {
	c, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	br := c.(*blobReader)
	rc, _, err := tarball.Decompress(br)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("blob %s: %v", l.desc.Digest, err)
	}
	return &uncompressedReader{rc: rc, blob: br}, nil
}

type blobReader struct {
	rc   io.ReadCloser
	hr   *tarball.HashingReader
	l    *pullLayer
	done bool
	err  error
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.hr.Read(p)
	if err == io.EOF {
		if verr := b.verify(); verr != nil {
			b.err = verr
			return n, verr
		}
	} else if err != nil {
		b.err = describePrefixed("pull", b.l.ref, "fetching blob "+b.l.desc.Digest.String()+": ", err)
		return n, b.err
	}
	return n, err
}

func (b *blobReader) verify() error {
	if b.done {
		return nil
	}
	b.done = true
	if b.l.desc.Size > 0 && b.hr.N() != b.l.desc.Size {
		return fmt.Errorf("blob %s: size mismatch: expected %d bytes, got %d", b.l.desc.Digest, b.l.desc.Size, b.hr.N())
	}
	if got := b.hr.Sum(); got != b.l.desc.Digest {
		return fmt.Errorf("blob %s: digest mismatch: got %s", b.l.desc.Digest, got)
	}
	return nil
}

// drain reads the rest of the blob (the bytes after a compressed stream's
// end) so that its digest can be checked.
func (b *blobReader) drain() error {
	if b.err != nil {
		return b.err
	}
	if b.done {
		return nil
	}
	_, err := io.Copy(io.Discard, b)
	return err
}

func (b *blobReader) Close() error { return b.rc.Close() }

type uncompressedReader struct {
	rc   io.ReadCloser
	blob *blobReader
}

func (u *uncompressedReader) Read(p []byte) (int, error) {
	n, err := u.rc.Read(p)
	if err == io.EOF {
		if derr := u.blob.drain(); derr != nil {
			return n, derr
		}
	} else if err != nil && u.blob.err != nil {
		return n, u.blob.err
	}
	return n, err
}

func (u *uncompressedReader) Close() error {
	err := u.rc.Close()
	if cerr := u.blob.Close(); err == nil {
		err = cerr
	}
	return err
}
