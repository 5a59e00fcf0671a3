package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
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
	// Names are further store references, for a store source of several
	// images (save IMAGE...); Name is the first.
	Names []string
}

// StoreRef is the store location of one or more references, as docker
// save takes them: a tag, a repository (every tag), an ID or ID prefix.
func StoreRef(names ...string) Ref {
	r := Ref{Transport: "store", Names: names}
	if len(names) > 0 {
		r.Name = names[0]
	}
	return r
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

// Item is one top-level thing a source holds and a sink writes: an image,
// or a whole image index, with its names.
type Item = item.Item

// Source is an opened source: its items, valid until Close.
type Source interface {
	Items() []Item
	Close() error
}

// Sink writes items (called once per convert).
type Sink interface {
	Put(ctx context.Context, items []Item, opts ConvertOptions) ([]Written, error)
}

// Written is one item a sink wrote, for the CLI to report.
type Written struct {
	Tags      []string     // familiar references, or ref names
	ID        v1.Hash      // image ID (config digest); zero for an index
	Digest    v1.Hash      // manifest or index digest; zero if unknown
	Platforms []string     // platforms of an index, or of the image
	Platform  *v1.Platform // an image's platform, where the source says
	DiffIDs   []v1.Hash
	// Renamed lists tags a store sink moved away from another image
	// (docker load's "renaming the old one" line).
	Renamed []store.TagResult
	// MediaType and Size describe the manifest a registry sink pushed;
	// MediaType alone, with ID zero, an artifact an OCI sink carried.
	MediaType string
	Size      int64
	// Detail is the sink's own result document, for --json (a registry
	// sink's push result: its layers, what was uploaded or mounted).
	Detail any
}

// Env is what transports may use.
type Env struct {
	// Store opens the image store (lazily; only store transports call it).
	Store  func() (store.Store, error)
	Stdin  io.Reader
	Stdout io.Writer
	// NoSync (--no-sync): archive files are renamed into place without
	// an fsync first.
	NoSync bool
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
// colon is not a registered transport is a store reference, unless what
// follows the colon is a path (a tag cannot start with / or .): then the
// prefix is a misspelt or unknown transport, and the error lists the
// known ones instead of tagging an image "dir:/tmp/x".
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, errors.New("empty image location")
	}
	tn, arg, ok := strings.Cut(s, ":")
	t, known := LookupTransport(tn)
	if ok && !known && strings.ContainsAny(arg[:min(1, len(arg))], "/.~") {
		return Ref{}, fmt.Errorf("%s: unknown transport %q (known: %s; a bare name is a store image)", s, tn, strings.Join(TransportNames(), ", "))
	}
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
