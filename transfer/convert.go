package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// Compression is the layer compression an OCI sink writes.
type Compression = tarball.Compression

// The compressions --compress names.
const (
	NoCompression = tarball.None
	Gzip          = tarball.Gzip
	Zstd          = tarball.Zstd
)

// ConvertOptions control a convert.
type ConvertOptions struct {
	// Platforms keeps only these platforms (see Select). Empty: every
	// platform, except that a single-platform sink (the store) takes the
	// host's from an index.
	Platforms []v1.Platform
	// AllPlatforms keeps every platform, even for a single-platform sink.
	AllPlatforms bool
	// SkipMissingPlatforms drops platforms whose blobs the source lacks
	// instead of failing.
	SkipMissingPlatforms bool
	// StrictPlatform makes an image (not an index) of another platform
	// than Platforms an error instead of being left out, as Docker 28's
	// save --platform fails on a store image of another platform.
	StrictPlatform bool

	// Keep copies layer blobs as stored (no --compress given); otherwise
	// OCI sinks write layers with Compression at Level.
	Keep        bool
	Compression tarball.Compression
	Level       int
	Epoch       time.Time
	Jobs        int
	// Legacy makes docker-archive sinks write Docker ≤24's layout.
	Legacy bool
	// Skipped, if set, is told about each platform dropped for missing blobs.
	Skipped func(platform string, digest v1.Hash)
	// Progress, if set, counts the layer bytes a sink reads.
	Progress progress.Reporter
	// Output, if set, wraps the stream an archive sink writes (to count
	// and hash it for --json).
	Output func(io.Writer) io.Writer
	// Warn, if set, receives warnings that do not fail the command.
	Warn func(format string, args ...any)
	// CarryArtifacts keeps OCI artifacts (signatures, SBOMs, referrers;
	// manifests that are not runnable images) inside indexes; Run sets it
	// for sinks that carry them (CarriesArtifacts).
	CarryArtifacts bool
	// FromRegistry: the source is a registry (a pull); Run sets it. A
	// store that records indexes then labels every child of an index, as
	// containerd's pull does whatever platforms it takes.
	FromRegistry bool
}

// CarriesArtifacts reports a transport whose sink keeps OCI artifacts
// unchanged (manifest bytes, blobs, index entry), as skopeo copy --all
// and regclient do: OCI layouts, oci-archive and registries. Every other
// sink skips them with a line naming each.
func CarriesArtifacts(t *Transport) bool {
	return t.Name == "oci" || t.Name == "oci-archive" || t.Name == "docker"
}

// artifactSinks names the sinks that carry artifacts, for messages.
const artifactSinks = "only oci:, oci-archive: and docker:// carry artifacts"

// Result is what one Run moved.
type Result struct {
	// Written lists what the sink wrote, in order.
	Written []Written
	// Digests are the digests of the source's selected items before any
	// platform was cut away (a registry's index digest, as docker pull
	// prints it); zero where the source has none.
	Digests []v1.Hash
}

// Run is the one pipeline: open src, Select its items, rename them for
// dst's :REF, and Put them into dst. load, save, convert, push and pull
// are each one Run with other locations.
func Run(ctx context.Context, src, dst Ref, env *Env, opts ConvertOptions) (*Result, error) {
	_, dt, err := endpoints(src, dst)
	if err != nil {
		return nil, err
	}
	opts.CarryArtifacts = CarriesArtifacts(dt)
	opts.FromRegistry = src.Transport == "docker"
	source, items, err := openNamed(ctx, src, env, dt)
	if err != nil {
		return nil, err
	}
	if !opts.CarryArtifacts {
		if items, err = withoutArtifactIndexes(items, opts); err != nil {
			source.Close()
			return nil, fmt.Errorf("%s: %w", src, err)
		}
	}
	digests := make([]v1.Hash, len(items))
	for i, it := range items {
		digests[i] = it.Digest
	}
	if items, err = Select(items, "", loadPlatforms(src, dt, env, opts), dt.SinglePlatform); err != nil {
		source.Close()
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	warnSkipped(source, opts)
	defer source.Close()
	items = wholeIndex(source, items, src, dt, opts)
	if items, err = rename(items, dst, dt); err != nil {
		return nil, err
	}
	sink, err := dt.Sink(ctx, dst, env)
	if err != nil {
		return nil, err
	}
	written, err := sink.Put(ctx, items, opts)
	if err != nil {
		return nil, err
	}
	if r, ok := source.(Recorder); ok && dt.Name == "store" {
		if err := r.Record(); err != nil && opts.Warn != nil {
			opts.Warn("recording distribution metadata: %v", err)
		}
	}
	if _, ok := source.(*storeSource); ok && dt.Name == "docker" {
		source.Close() // the reader lock, before recordPushed takes the writer's
		st, err := env.Store()
		if err == nil {
			err = recordPushed(st, written)
		}
		if err != nil && opts.Warn != nil {
			opts.Warn("recording the pushed digest: %v", err)
		}
	}
	return &Result{Written: written, Digests: digests}, nil
}

// loadPlatforms is the platform choice for Select: opts, except that a
// load (not a pull) into a store that records indexes takes every
// platform the source holds when none is asked, skipping those whose
// blobs are absent without a word, as Docker 29's docker load into the
// containerd store does (containerd's import with any platform, skipping
// missing content). A pull takes the host's platform, as docker pull.
func loadPlatforms(src Ref, dt *Transport, env *Env, opts ConvertOptions) ConvertOptions {
	if dt.Name != "store" || opts.FromRegistry || len(opts.Platforms) > 0 || opts.AllPlatforms {
		return opts
	}
	if st, err := env.Store(); err != nil || !store.KeepsIndexes(st) {
		return opts
	}
	opts.AllPlatforms, opts.SkipMissingPlatforms, opts.Skipped = true, true, nil
	return opts
}

// withoutArtifactIndexes drops the indexes that hold nothing but
// artifacts, saying so, for a sink that does not carry artifacts: they
// must not fail a load of the images beside them. A source of nothing
// else is an error naming them.
func withoutArtifactIndexes(items []Item, opts ConvertOptions) ([]Item, error) {
	var out []Item
	var dropped []string
	for _, it := range items {
		if it.Index != nil && archive.OnlyArtifacts(it.Index) {
			dropped = append(dropped, fmt.Sprintf("index %s (%s)", it.Digest, strings.Join(it.Names(), ", ")))
			continue
		}
		out = append(out, it)
	}
	if len(out) == 0 && len(dropped) > 0 {
		return nil, fmt.Errorf("%s holds only OCI artifacts, no image: %s", strings.Join(dropped, "; "), artifactSinks)
	}
	for _, d := range dropped {
		if opts.Warn != nil {
			opts.Warn("skipping %s: it holds only artifacts (%s)", d, artifactSinks)
		}
	}
	return out, nil
}

// warnSkipped says what the source left out: its artifacts too unless
// the sink carries them.
func warnSkipped(source Source, opts ConvertOptions) {
	if opts.Warn == nil {
		return
	}
	var skipped []string
	if sk, ok := source.(interface{ SkippedByAll() []string }); ok && opts.CarryArtifacts {
		skipped = sk.SkippedByAll()
	} else if sk, ok := source.(interface{ Skipped() []string }); ok {
		skipped = sk.Skipped()
	}
	for _, what := range skipped {
		opts.Warn("skipping %s", what)
	}
}

// Indexer is a source that is itself an index (an OCI layout's index.json).
type Indexer interface{ AsIndex() (v1.ImageIndex, error) }

// wholeIndex: a registry reference holds one manifest, so a source of
// several images that is itself an index, named without :REF, is pushed
// as that index, byte for byte; with its artifacts and nested indexes
// when the registry carries them and no platform was chosen.
func wholeIndex(source Source, items []Item, src Ref, dt *Transport, opts ConvertOptions) []Item {
	if dt.Name != "docker" || len(items) < 2 || src.Name != "" {
		return items
	}
	carry := opts.CarryArtifacts && len(opts.Platforms) == 0
	for _, it := range items {
		if it.Image == nil && !carry {
			return items
		}
	}
	if sk, ok := source.(interface{ SkippedByAll() []string }); ok && carry && len(sk.SkippedByAll()) > 0 {
		return items // index.json also names manifests that cannot be carried
	} else if sk, ok := source.(interface{ Skipped() []string }); ok && !carry && len(sk.Skipped()) > 0 {
		return items // index.json also names artifacts the sink skips
	}
	if x, ok := source.(Indexer); ok {
		if idx, err := x.AsIndex(); err == nil {
			return []Item{{Index: idx}}
		}
	}
	return items
}

// Recorder is a source that records something in the store once its items
// were written there (a registry: Docker's distribution metadata).
type Recorder interface{ Record() error }

// Convert copies SRC to DST given as strings (see ParseRef): every item of
// the source, or the one SRC's :REF selects. DST's :REF renames a single
// item.
func Convert(ctx context.Context, src, dst string, env *Env, opts ConvertOptions) ([]Written, error) {
	sref, err := ParseRef(src)
	if err != nil {
		return nil, err
	}
	dref, err := ParseRef(dst)
	if err != nil {
		return nil, err
	}
	res, err := Run(ctx, sref, dref, env, opts)
	if err != nil {
		return nil, err
	}
	return res.Written, nil
}

func endpoints(src, dst Ref) (*Transport, *Transport, error) {
	st, ok := LookupTransport(src.Transport)
	if !ok || st.Source == nil {
		return nil, nil, fmt.Errorf("%s: the %s transport cannot be read", src, src.Transport)
	}
	dt, ok := LookupTransport(dst.Transport)
	if !ok || dt.Sink == nil {
		return nil, nil, fmt.Errorf("%s: the %s transport cannot be written", dst, dst.Transport)
	}
	if st.Name == "store" && dt.Name == "store" {
		return nil, nil, errors.New("source and destination are both the store: use `imgtool tag`")
	}
	if src.Path != "" && src.Path == dst.Path && src.Path != "-" {
		return nil, nil, fmt.Errorf("%s and %s are the same path", src, dst)
	}
	return st, dt, nil
}

// Open opens a location and returns the items Select takes from it, for
// commands that read without a sink (flatten). singlePlatform says
// whether the reader holds one platform per image.
func Open(ctx context.Context, ref Ref, env *Env, opts ConvertOptions, singlePlatform bool) (Source, []Item, error) {
	source, items, err := OpenNamed(ctx, ref, env)
	if err != nil {
		return nil, nil, err
	}
	if items, err = Select(items, "", opts, singlePlatform); err != nil {
		source.Close()
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	return source, items, nil
}

// OpenNamed opens a location and keeps the item its :REF names (every
// item when it names none), without platform selection: verify looks at
// every platform and reports the missing ones itself.
func OpenNamed(ctx context.Context, ref Ref, env *Env) (Source, []Item, error) {
	return openNamed(ctx, ref, env, nil)
}

// openWithArtifacts is OpenNamed with the source's top-level artifacts
// among the items (verify re-hashes their blobs too).
func openWithArtifacts(ctx context.Context, ref Ref, env *Env) (Source, []Item, error) {
	oci, _ := LookupTransport("oci")
	return openNamed(ctx, ref, env, oci)
}

// openNamed is OpenNamed for a sink of transport dt (nil: none): one that
// carries artifacts takes the source's artifacts too (AllItems); the
// store takes a legacy save's intermediate images too (LoadItems).
func openNamed(ctx context.Context, ref Ref, env *Env, dt *Transport) (Source, []Item, error) {
	t, ok := LookupTransport(ref.Transport)
	if !ok || t.Source == nil {
		return nil, nil, fmt.Errorf("%s: the %s transport cannot be read", ref, ref.Transport)
	}
	source, err := t.Source(ctx, ref, env)
	if err != nil {
		return nil, nil, err
	}
	items := source.Items()
	if all, ok := source.(interface{ AllItems() []Item }); ok && dt != nil && CarriesArtifacts(dt) {
		items = all.AllItems()
	}
	if li, ok := source.(interface{ LoadItems() []Item }); ok && dt != nil && dt.Name == "store" && ref.Name == "" {
		items = li.LoadItems()
	}
	if ref.Name != "" && t.Name != "store" { // the store resolved its names itself
		it, err := selectItem(items, ref.Name, t.Name == "docker-archive")
		if err != nil {
			err = artifactNamed(source, ref.Name, err)
			source.Close()
			return nil, nil, fmt.Errorf("%s: %w", ref, err)
		}
		items = []Item{it}
	}
	if len(items) == 0 {
		err := fmt.Errorf("%s: no images", ref)
		if sk, ok := source.(interface{ Skipped() []string }); ok && len(sk.Skipped()) > 0 {
			err = fmt.Errorf("%s: no images (skipped: %s)", ref, strings.Join(sk.Skipped(), "; "))
		}
		source.Close()
		return nil, nil, err
	}
	return source, items, nil
}

// artifactNamed turns a failed selection into "it is an artifact" when the
// name picks one of the source's artifacts, which this sink skips.
func artifactNamed(source Source, name string, err error) error {
	all, ok := source.(interface{ AllItems() []Item })
	if !ok {
		return err
	}
	it, aerr := selectItem(all.AllItems(), name, false)
	if aerr != nil {
		return err
	}
	if what, art := archive.IsArtifact(it.Image); art {
		return fmt.Errorf("%q is an OCI artifact (%s), not an image: %s", name, what, artifactSinks)
	}
	return err
}

// rename gives a single item dst's :REF as its only name.
func rename(items []Item, dst Ref, dt *Transport) ([]Item, error) {
	if dst.Name == "" {
		return items, nil
	}
	if len(items) != 1 {
		return nil, fmt.Errorf("%s names one image, but the source holds %d: pick one with SRC:REF", dst, len(items))
	}
	it := items[0]
	it.Tags, it.RefNames = nil, nil
	if t, err := reference.ParseNamedTagged(dst.Name); err == nil {
		it.Tags = []name.Tag{t}
	} else if dt.Name == "oci" || dt.Name == "oci-archive" {
		it.RefNames = []string{dst.Name} // a bare OCI ref name such as "latest"
	} else if t, err := reference.ParseTag(dst.Name); err == nil {
		it.Tags = []name.Tag{t}
	} else {
		return nil, fmt.Errorf("%s: %v", dst, err)
	}
	return []Item{it}, nil
}
