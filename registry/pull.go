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

	"github.com/imgtool/imgtool/tarball"
)

// Remote is what a pull read from a registry (Opened keeps one): the
// images whose layers were fetched, for Record. Layer blobs are fetched
// only when a consumer reads them (the store never reads the layers it
// already has), and every blob is checked against its digest and size as
// it streams.
type Remote struct {
	Ref    name.Reference
	Digest v1.Hash // digest of the manifest or index Ref resolved to

	images []*pullImage
	opts   Options
}

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
