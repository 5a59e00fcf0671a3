package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/reference"
)

// ---- archives, layouts ---------------------------------------------------------

type archiveSource struct {
	a      *archive.Archive
	items  []Item
	layout bool // an OCI layout directory (oci:DIR)
}

// AsIndex is an OCI layout's index.json as one index: what a registry
// gets when the layout holds several images (ggcr's layout.Write and oras
// write them so), pushed byte for byte. Read through the archive's own
// reader, the one OCI layout reader.
func (s *archiveSource) AsIndex() (v1.ImageIndex, error) {
	if !s.layout {
		return nil, errors.New("not an OCI layout directory")
	}
	raw, err := s.a.ReadJSON("index.json", &v1.IndexManifest{})
	if err != nil {
		return nil, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return s.a.Index(raw, types.OCIImageIndex, h), nil
}

func (s *archiveSource) Items() []Item { return s.items }

// AllItems are Items with the top-level artifacts among them, for sinks
// that carry artifacts (OCI layouts and archives).
func (s *archiveSource) AllItems() []Item { return s.a.AllItems() }

// LoadItems are Items with a legacy save's intermediate images, for a
// load into the store (docker load keeps them).
func (s *archiveSource) LoadItems() []Item { return s.a.LoadItems() }

// Skipped lists the top-level manifests the archive left out (artifacts).
func (s *archiveSource) Skipped() []string { return s.a.Skipped() }

// SkippedByAll lists what even AllItems leaves out.
func (s *archiveSource) SkippedByAll() []string { return s.a.SkippedByAll() }
func (s *archiveSource) Close() error           { return s.a.Close() }

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
	s := &archiveSource{a: a}
	s.layout = r.Transport == "oci"
	s.items = a.Items()
	return s, nil
}

type archiveSink struct {
	ref    Ref
	env    *Env
	format archive.Format
}

func (s *archiveSink) Put(ctx context.Context, items []Item, opts ConvertOptions) ([]Written, error) {
	format := s.format
	if format == archive.Docker && opts.Legacy {
		format = archive.DockerLegacy
	}
	wrote := map[v1.Hash]v1.Hash{} // image ID or source index digest -> written manifest digest
	aopts := archive.Options{Format: format, Epoch: opts.Epoch, Compression: opts.Compression, Level: opts.Level, Jobs: opts.Jobs, Keep: opts.Keep,
		Wrote: func(src, manifest v1.Hash) { wrote[src] = manifest }}
	if format == archive.Docker || format == archive.DockerLegacy {
		if !opts.Keep && opts.Compression != 0 {
			return nil, fmt.Errorf("%s holds uncompressed layers: --compress is only for oci and oci-archive", s.ref.Transport)
		}
		aopts.Compression, aopts.Keep = 0, false
	}
	tagged := make([]Item, len(items))
	for i, it := range items {
		tagged[i] = Item{Image: it.Image, Index: it.Index, Tags: it.Tags, RefNames: it.RefNames, Parent: it.Parent}
		if _, art := archive.IsArtifact(it.Image); it.Image != nil && !art {
			tagged[i].Image = wrapImage(it.Image, ctx, opts.Progress)
		}
		if x := storedIndex(it.Image); x != nil && len(opts.Platforms) == 0 && format != archive.DockerLegacy {
			// a containerd-store image whose record targets an index is
			// saved as Docker 29 saves it: the index whole (its ID)
			tagged[i].Image, tagged[i].Index = nil, x
		}
	}
	write := func(w io.Writer) error {
		w = ctxWriter{ctx, w}
		if opts.Output != nil {
			w = opts.Output(w)
		}
		return archive.Write(w, tagged, aopts)
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
		err = write(out)
	default:
		err = writeFileAtomic(s.ref.Path, !s.env.NoSync, write)
	}
	if err != nil {
		return nil, err
	}
	out := describe(items)
	for i := range out {
		src := out[i].ID
		if src == (v1.Hash{}) {
			src = out[i].Digest
		}
		if tagged[i].Index != nil && items[i].Index == nil {
			src, _ = tagged[i].Index.Digest() // a stored index, written whole
		}
		out[i].Digest = wrote[src] // zero where the form has no manifest
	}
	return out, nil
}

func describe(items []Item) []Written {
	var out []Written
	for _, it := range items {
		w := Written{}
		for _, t := range it.Tags {
			w.Tags = append(w.Tags, reference.Familiar(t))
		}
		w.Tags = append(w.Tags, it.RefNames...)
		if _, art := archive.IsArtifact(it.Image); art {
			// an artifact has no image ID: its manifest digest and type
			w.Digest, _ = it.Image.Digest()
			if mt, err := it.Image.MediaType(); err == nil {
				w.MediaType = string(mt)
			}
		} else if it.Index != nil {
			w.Digest, _ = it.Index.Digest()
			if pis, err := archive.IndexImages(it.Index); err == nil {
				for _, pi := range pis {
					w.Platforms = append(w.Platforms, platform.String(pi.Platform))
				}
			}
		} else {
			w.ID, _ = it.Image.ConfigName()
			if cf, err := it.Image.ConfigFile(); err == nil {
				w.DiffIDs = cf.RootFS.DiffIDs
			}
			if it.Platform != nil {
				w.Platform, w.Platforms = it.Platform, []string{platform.String(it.Platform)}
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
