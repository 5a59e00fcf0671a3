package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/archive/ocischema"
	"github.com/imgtool/imgtool/transfer"
)

// The docker:// location: a source and a sink of transfer.Run, nothing
// more. Platform choice is transfer.Select's, as for every other source:
// an index is handed over whole and lazily, and only the manifests,
// configs and layers of what is taken are fetched.
func init() { transfer.RegisterTransport(Transport(Options{})) }

// Transport is the docker:// location with the registry options of the
// command (credentials, --insecure, jobs, the store's data root for
// distribution metadata). The CLI registers its own before a Run.
func Transport(opts Options) *transfer.Transport {
	return &transfer.Transport{
		Name:  "docker",
		Split: splitDockerRef,
		Source: func(ctx context.Context, r transfer.Ref, _ *transfer.Env) (transfer.Source, error) {
			return Open(ctx, r.Path, opts)
		},
		Sink: func(ctx context.Context, r transfer.Ref, _ *transfer.Env) (transfer.Sink, error) {
			return &registrySink{ref: r.Path, opts: opts}, nil
		},
	}
}

func splitDockerRef(arg string) (string, string, error) {
	ref, ok := strings.CutPrefix(arg, "//")
	if !ok || ref == "" {
		return "", "", fmt.Errorf("docker transport: want docker://REF, got docker:%s", arg)
	}
	return ref, "", nil
}

// Opened is a reference resolved in its registry as one transfer item.
type Opened struct {
	Ref    name.Reference
	Digest v1.Hash
	item   transfer.Item
	pulled *Remote // the images read, for Record

	ctx context.Context //nolint:containedctx // the pull's, for resuming blob reads
	ro  []remote.Option

	all     []transfer.Item // the artifact the reference names (AllItems)
	skipped []string

	pullerOnce sync.Once // for artifact blobs
	puller     *remote.Puller
	pullerErr  error
}

// Open resolves ref: a manifest becomes an image item, an index an index
// item whose images verify and decompress their layers as they stream.
func Open(ctx context.Context, ref string, opts Options) (*Opened, error) {
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
	if err := checkDocument(desc.Manifest, desc.MediaType); err != nil {
		return nil, fmt.Errorf("pull %s: manifest %s: %w", ref, desc.Digest, err)
	}
	o := &Opened{Ref: r, Digest: desc.Digest, pulled: &Remote{Ref: r, Digest: desc.Digest, opts: opts}, ctx: ctx, ro: ro}
	// Docker records a pull as repo@<manifest or index digest> beside the
	// tag (addDigestReference), and a pull by digest as that reference only.
	it := transfer.Item{Digest: desc.Digest, DigestRefs: []name.Digest{r.Context().Digest(desc.Digest.String())}}
	if t, ok := r.(name.Tag); ok {
		it.Tags = []name.Tag{t}
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, describe("pull", ref, err)
		}
		it.Index = &pullIndex{base: idx, ref: ref, o: o}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, describe("pull", ref, err)
		}
		what, err := artifactKind(desc.Manifest, desc.MediaType, img.RawConfigFile)
		if err != nil {
			return nil, describe("pull", ref, err)
		}
		if what != "" {
			return o, o.openArtifact(it, desc, what)
		}
		pi := o.wrap(img)
		if _, err := pi.Layers(); err != nil { // a bad config fails before anything is written
			return nil, err
		}
		it.Image = pi // no Platform: a plain manifest is taken whatever it says
	case desc.MediaType.IsSchema1():
		return nil, fmt.Errorf("pull %s: schema 1 manifests (%s) are not supported; push the image again with a current client", ref, desc.MediaType)
	default:
		if err := o.openArtifact(it, desc, "media type "+string(desc.MediaType)); err != nil {
			return nil, err
		}
		return o, nil
	}
	o.item = it
	return o, nil
}

func (o *Opened) wrap(img v1.Image) *pullImage {
	pi := &pullImage{Image: img, ref: o.Ref.String(), ctx: o.ctx, backoff: o.pulled.opts.backoff()}
	if d, err := img.Digest(); err == nil {
		pi.refetch = func() (v1.Image, error) { return remote.Image(o.Ref.Context().Digest(d.String()), o.ro...) }
	}
	o.pulled.images = append(o.pulled.images, pi)
	return pi
}

// Items is the one item the reference names (none when it names an
// artifact: see AllItems).
func (o *Opened) Items() []transfer.Item {
	if o.all != nil {
		return nil
	}
	return []transfer.Item{o.item}
}

// Close releases nothing; the registry holds no local state.
func (o *Opened) Close() error { return nil }

// Record writes Docker's distribution metadata for the layers read into
// the store (transfer.Run calls it after a store sink's Put).
func (o *Opened) Record() error { return o.pulled.Record() }

// pullIndex hands out its images as pullImages (verified, one-pass layers).
type pullIndex struct {
	base v1.ImageIndex
	ref  string
	o    *Opened
	artifactsMu
}

func (x *pullIndex) MediaType() (types.MediaType, error)       { return x.base.MediaType() }
func (x *pullIndex) Digest() (v1.Hash, error)                  { return x.base.Digest() }
func (x *pullIndex) Size() (int64, error)                      { return x.base.Size() }
func (x *pullIndex) IndexManifest() (*v1.IndexManifest, error) { return x.base.IndexManifest() }

func (x *pullIndex) RawManifest() ([]byte, error) { return x.base.RawManifest() }

// checkDocument is the one OCI validation every reader runs
// (archive/ocischema), on a manifest or index the registry served.
func checkDocument(raw []byte, mt types.MediaType) error {
	switch {
	case mt.IsIndex():
		return ocischema.CheckIndex(raw)
	case mt.IsImage():
		return ocischema.CheckManifest(raw, string(mt))
	}
	return nil
}

// Image is child h as a pullImage, or an ErrNotImage error naming what
// it is when it is an artifact (see Artifact).
func (x *pullIndex) Image(h v1.Hash) (v1.Image, error) {
	img, _, what, err := x.childKind(h)
	if err != nil {
		return nil, err
	}
	if what != "" {
		return nil, fmt.Errorf("manifest %s (%s): %w", h, what, archive.ErrNotImage)
	}
	return x.o.wrap(img), nil
}

func (x *pullIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := x.base.ImageIndex(h)
	if err != nil {
		return nil, describe("pull", x.ref, err)
	}
	if raw, err := idx.RawManifest(); err == nil {
		if err := ocischema.CheckIndex(raw); err != nil {
			return nil, fmt.Errorf("pull %s: index %s: %w", x.ref, h, err)
		}
	}
	return &pullIndex{base: idx, ref: x.ref, o: x.o}, nil
}

type registrySink struct {
	ref  string
	opts Options
}

// Put pushes the items under the sink's reference: one image as itself,
// an index whole, several images as a new index of their platforms.
func (s *registrySink) Put(ctx context.Context, items []transfer.Item, opts transfer.ConvertOptions) ([]transfer.Written, error) {
	items, err := s.withoutLooseArtifacts(items, opts)
	if err != nil {
		return nil, err
	}
	res, err := s.push(ctx, items)
	if err != nil {
		return nil, err
	}
	w := transfer.Written{Tags: []string{s.ref}, Digest: res.Digest, MediaType: string(res.MediaType), Size: res.Size, Detail: res}
	if len(items) == 1 && items[0].Image != nil && !isArtifact(items[0]) {
		w.ID = items[0].ID()
	}
	return []transfer.Written{w}, nil
}

func (s *registrySink) push(ctx context.Context, items []transfer.Item) (*PushResult, error) {
	switch {
	case len(items) == 1 && items[0].Index != nil:
		return PushIndex(ctx, s.ref, items[0].Index, s.opts)
	case len(items) == 1 && isArtifact(items[0]):
		return PushArtifact(ctx, s.ref, items[0].Image.(*archive.Artifact), s.opts)
	case len(items) == 1:
		return Push(ctx, s.ref, items[0].Image, s.opts)
	case len(items) > 1:
		for _, it := range items {
			if it.Image == nil {
				return nil, errors.New("docker transport: cannot push an index together with other items")
			}
		}
		return PushItems(ctx, s.ref, items, s.opts)
	}
	return nil, fmt.Errorf("push %s: nothing to push", s.ref)
}

func isArtifact(it transfer.Item) bool {
	_, ok := it.Image.(*archive.Artifact)
	return ok
}

// withoutLooseArtifacts: a reference holds one manifest, so the
// top-level artifacts of a source of several manifests that is not pushed
// as one index (an oci-archive's) are skipped with a line naming each;
// push one with SRC:REF.
func (s *registrySink) withoutLooseArtifacts(items []transfer.Item, opts transfer.ConvertOptions) ([]transfer.Item, error) {
	if len(items) < 2 {
		return items, nil
	}
	var out []transfer.Item
	for _, it := range items {
		if !isArtifact(it) {
			out = append(out, it)
			continue
		}
		what, _ := archive.IsArtifact(it.Image)
		if opts.Warn != nil {
			opts.Warn("skipping manifest %s (%s): %s holds one manifest; push the artifact on its own with SRC:REF", it.Digest, what, s.ref)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("push %s: the source holds %d artifacts and no image: push one at a time with SRC:REF", s.ref, len(items))
	}
	return out, nil
}
