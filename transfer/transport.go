package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// Ref is a parsed image location, TRANSPORT:ARG in skopeo's spelling:
// docker-archive:PATH[:REF], oci-archive:PATH[:REF], oci:DIR[:REF],
// store:REF; a string without a known transport prefix is a store
// reference.
type Ref struct {
	Transport string // a registered transport name
	Path      string // file or directory; "-" is stdin/stdout; "" for store
	Name      string // the optional REF part (for store, the reference)
}

func (r Ref) String() string {
	switch {
	case r.Path == "":
		return r.Transport + ":" + r.Name
	case r.Name == "":
		return r.Transport + ":" + r.Path
	}
	return r.Transport + ":" + r.Path + ":" + r.Name
}

// Source is an opened source: its items, valid until Close.
type Source interface {
	Items() []item.Item
	Close() error
}

// Sink writes items (called once per convert).
type Sink interface {
	Put(ctx context.Context, items []item.Item, opts ConvertOptions) ([]Written, error)
}

// Written is one item a sink wrote, for the CLI to report.
type Written struct {
	Tags      []string // familiar references, or ref names
	ID        v1.Hash  // image ID (config digest); zero for an index
	Digest    v1.Hash  // index digest for an index; zero if unknown
	Platforms []string // platforms of an index, or of the image
}

// Env is what transports may use.
type Env struct {
	// Store opens the image store (lazily; only store transports call it).
	Store  func() (*store.Store, error)
	Stdin  io.Reader
	Stdout io.Writer
}

// Transport is a named kind of location. Source and/or Sink may be nil
// when the transport cannot be read or written.
type Transport struct {
	Name string
	// Split parses what follows "NAME:". The default splits PATH[:REF]
	// at the first colon.
	Split func(arg string) (path, ref string, err error)
	// Stream: "-" means stdin (source) or stdout (sink).
	Stream bool
	// SinglePlatform sinks hold one platform per image name (the store): an
	// index is cut to the host's platform unless --platform or
	// --all-platforms say otherwise.
	SinglePlatform bool
	Source         func(ctx context.Context, r Ref, env *Env) (Source, error)
	Sink           func(ctx context.Context, r Ref, env *Env) (Sink, error)
}

var (
	transportsMu sync.RWMutex
	transports   = map[string]*Transport{}
)

// RegisterTransport adds (or replaces) a transport. A registry transport
// (docker://REF) registers itself here with a Split that drops the "//".
func RegisterTransport(t *Transport) {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	transports[t.Name] = t
}

// LookupTransport returns a registered transport.
func LookupTransport(name string) (*Transport, bool) {
	transportsMu.RLock()
	defer transportsMu.RUnlock()
	t, ok := transports[name]
	return t, ok
}

// TransportNames lists the registered transports, sorted.
func TransportNames() []string {
	transportsMu.RLock()
	defer transportsMu.RUnlock()
	var out []string
	for n := range transports {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SplitPathRef splits PATH[:REF] at the first colon (skopeo's rule: a path
// cannot contain a colon, the reference may).
func SplitPathRef(arg string) (string, string, error) {
	p, r, _ := strings.Cut(arg, ":")
	if p == "" {
		return "", "", errors.New("empty path")
	}
	return p, r, nil
}

// ParseRef parses TRANSPORT:ARG; a string whose prefix before the first
// colon is not a registered transport is a store reference.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, errors.New("empty image location")
	}
	tn, arg, ok := strings.Cut(s, ":")
	t, known := LookupTransport(tn)
	if !ok || !known {
		return Ref{Transport: "store", Name: s}, nil
	}
	split := t.Split
	if split == nil {
		split = SplitPathRef
	}
	p, r, err := split(arg)
	if err != nil {
		return Ref{}, fmt.Errorf("%s: %v", s, err)
	}
	if p == "-" && !t.Stream {
		return Ref{}, fmt.Errorf("%s: the %s transport cannot use stdin/stdout", s, tn)
	}
	return Ref{Transport: tn, Path: p, Name: r}, nil
}

func init() {
	for _, f := range []struct {
		name   string
		format archive.Format
	}{{"docker-archive", archive.Docker}, {"oci-archive", archive.OCIArchive}} {
		format := f.format
		RegisterTransport(&Transport{
			Name:   f.name,
			Stream: true,
			Source: openArchiveSource,
			Sink: func(_ context.Context, r Ref, env *Env) (Sink, error) {
				return &archiveSink{ref: r, env: env, format: format}, nil
			},
		})
	}
	RegisterTransport(&Transport{
		Name:   "oci",
		Source: openArchiveSource,
		Sink: func(_ context.Context, r Ref, env *Env) (Sink, error) {
			return &archiveSink{ref: r, env: env, format: archive.OCILayout}, nil
		},
	})
	RegisterTransport(&Transport{
		Name:           "store",
		Split:          func(arg string) (string, string, error) { return "", arg, nil },
		SinglePlatform: true,
		Source:         openStoreSource,
		Sink: func(_ context.Context, r Ref, env *Env) (Sink, error) {
			return &storeSink{ref: r, env: env}, nil
		},
	})
}

// ---- archives, layouts ---------------------------------------------------------

type archiveSource struct {
	a     *archive.Archive
	items []item.Item
}

func (s *archiveSource) Items() []item.Item { return s.items }
func (s *archiveSource) Close() error       { return s.a.Close() }

func openArchiveSource(_ context.Context, r Ref, env *Env) (Source, error) {
	var a *archive.Archive
	var err error
	switch {
	case r.Path == "-":
		in := env.Stdin
		if in == nil {
			in = os.Stdin
		}
		a, err = archive.FromReader(in)
	case r.Transport == "oci":
		a, err = archive.OpenLayout(r.Path)
	default:
		a, err = archive.Open(r.Path)
	}
	if err != nil {
		return nil, err
	}
	return &archiveSource{a: a, items: a.Items()}, nil
}

type archiveSink struct {
	ref    Ref
	env    *Env
	format archive.Format
}

func (s *archiveSink) Put(_ context.Context, items []item.Item, opts ConvertOptions) ([]Written, error) {
	format := s.format
	if format == archive.Docker && opts.Legacy {
		format = archive.DockerLegacy
	}
	aopts := archive.Options{Format: format, Epoch: opts.Epoch, Compression: opts.Compression, Level: opts.Level, Jobs: opts.Jobs, Keep: opts.Keep}
	if format == archive.Docker || format == archive.DockerLegacy {
		if !opts.Keep && opts.Compression != 0 {
			return nil, fmt.Errorf("%s holds uncompressed layers: --compress is only for oci and oci-archive", s.ref.Transport)
		}
		aopts.Compression, aopts.Keep = 0, false
	}
	tagged := make([]item.Item, len(items))
	for i, it := range items {
		tagged[i] = item.Item{Image: it.Image, Index: it.Index, Tags: it.Tags, RefNames: it.RefNames}
	}
	var err error
	switch {
	case format == archive.OCILayout:
		err = archive.WriteLayout(s.ref.Path, tagged, aopts)
	case s.ref.Path == "-":
		out := s.env.Stdout
		if out == nil {
			out = os.Stdout
		}
		err = archive.Write(out, tagged, aopts)
	default:
		err = writeFileAtomic(s.ref.Path, func(w io.Writer) error { return archive.Write(w, tagged, aopts) })
	}
	if err != nil {
		return nil, err
	}
	return describe(items), nil
}

// writeFileAtomic writes path through a temp file renamed when complete.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func describe(items []item.Item) []Written {
	var out []Written
	for _, it := range items {
		w := Written{}
		for _, t := range it.Tags {
			w.Tags = append(w.Tags, reference.Familiar(t))
		}
		w.Tags = append(w.Tags, it.RefNames...)
		if it.Index != nil {
			w.Digest, _ = it.Index.Digest()
			if pis, err := archive.IndexImages(it.Index); err == nil {
				for _, pi := range pis {
					w.Platforms = append(w.Platforms, platform.String(pi.Platform))
				}
			}
		} else {
			w.ID, _ = it.Image.ConfigName()
			if it.Platform != nil {
				w.Platforms = []string{platform.String(it.Platform)}
			}
		}
		out = append(out, w)
	}
	return out
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// ---- the store -------------------------------------------------------------------

type storeSource struct {
	unlock func()
	items  []item.Item
}

func (s *storeSource) Items() []item.Item { return s.items }
func (s *storeSource) Close() error {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return nil
}

func openStoreSource(_ context.Context, r Ref, env *Env) (Source, error) {
	if r.Name == "" {
		return nil, errors.New("store: an image reference is needed")
	}
	st, err := env.Store()
	if err != nil {
		return nil, err
	}
	unlock, err := st.Reader()
	if err != nil {
		return nil, err
	}
	id, err := st.Resolve(r.Name)
	if err != nil {
		unlock()
		return nil, err
	}
	img, err := st.Image(id)
	if err != nil {
		unlock()
		return nil, err
	}
	it := item.Item{Image: img}
	if !looksLikeID(r.Name) {
		if t, err := reference.ParseTag(r.Name); err == nil {
			it.Tags = []name.Tag{t}
		}
	}
	if cf, err := img.ConfigFile(); err == nil && (cf.OS != "" || cf.Architecture != "") {
		it.Platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}
	return &storeSource{unlock: unlock, items: []item.Item{it}}, nil
}

type storeSink struct {
	ref Ref
	env *Env
}

func (s *storeSink) Put(ctx context.Context, items []item.Item, _ ConvertOptions) ([]Written, error) {
	st, err := s.env.Store()
	if err != nil {
		return nil, err
	}
	var entries []item.Item
	for _, it := range items {
		if it.Index == nil {
			entries = append(entries, item.Item{Image: it.Image, Tags: it.Tags, Platform: it.Platform, Parent: it.Parent})
			continue
		}
		pis, err := archive.IndexImages(it.Index)
		if err != nil {
			return nil, err
		}
		for i, pi := range pis {
			e := item.Item{Image: pi.Image, Platform: pi.Platform}
			if i == 0 {
				e.Tags = it.Tags // one image per name: the first platform kept
			}
			entries = append(entries, e)
		}
	}
	loaded, err := Load(ctx, st, entries, LoadOptions{})
	if err != nil {
		return nil, err
	}
	var out []Written
	for _, l := range loaded {
		w := Written{Tags: l.Tags, ID: l.ID}
		if l.Platform != nil {
			w.Platforms = []string{platform.String(l.Platform)}
		}
		out = append(out, w)
	}
	return out, nil
}
