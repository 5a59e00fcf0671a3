// Package archive reads and writes image archives: every `docker save`
// format (legacy ≤24, Docker 25+ hybrid OCI layout, containerd-store
// saves), plain OCI image-layout tars and directories, and ggcr/crane
// tarballs, each optionally compressed as a whole or per layer.
//
// It is the front door: Open detects the format and dispatches, Write
// picks the writer by Options.Format. The formats live in
// archive/dockersave (docker save, 25+ and legacy) and archive/oci (OCI
// layout, dir and tar); the shared core (tar member index, blob reading,
// image and layer types, the blob plan) is archive/internal/core.
package archive

import (
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive/dockersave"
	"github.com/imgtool/imgtool/archive/internal/core"
	"github.com/imgtool/imgtool/archive/oci"
	"github.com/imgtool/imgtool/item"
)

// Archive is an opened image archive. Close releases its file.
type Archive = core.Archive

// Format selects the archive layout a writer produces.
type Format = core.Format

// The formats Write and WriteLayout produce.
const (
	Docker       = core.Docker
	DockerLegacy = core.DockerLegacy
	OCIArchive   = core.OCIArchive
	OCILayout    = core.OCILayout
)

// Options control the writers.
type Options = core.Options

// Keep decides whether FilterIndex keeps an image descriptor of parent.
type Keep = core.Keep

// ErrMissing is matched (errors.Is) by errors for paths the archive does
// not hold.
var ErrMissing = core.ErrMissing

// ErrNotImage marks an OCI artifact where an image was expected.
var ErrNotImage = core.ErrNotImage

// Open opens the archive at path ("-" reads stdin). A compressed archive
// is decompressed once into a temporary file; a directory is read as an
// OCI image layout.
func Open(p string) (*Archive, error) { return core.Open(p, load) }

// FromReader reads an archive from a stream, spooled once into an
// unlinked temporary file.
func FromReader(r io.Reader) (*Archive, error) { return core.FromReader(r, load) }

// OpenLayout opens an OCI image layout directory (index.json, blobs/).
func OpenLayout(dir string) (*Archive, error) { return core.OpenLayout(dir, load) }

// Write writes imgs to w as one archive in opts.Format (Docker,
// DockerLegacy or OCIArchive).
func Write(w io.Writer, imgs []item.Item, opts Options) error {
	switch opts.Format {
	case Docker:
		return dockersave.Write(w, imgs, opts)
	case DockerLegacy:
		return dockersave.WriteLegacy(w, imgs, opts)
	case OCIArchive:
		return oci.Write(w, imgs, opts)
	case OCILayout:
		return errors.New("the OCI layout format is a directory: use WriteLayout")
	}
	return fmt.Errorf("unknown format %v", opts.Format)
}

// WriteLayout writes imgs as an OCI image layout in dir.
func WriteLayout(dir string, imgs []item.Item, opts Options) error {
	return oci.WriteLayout(dir, imgs, opts)
}

// IsAttestation reports a descriptor of buildx's attestation manifests (or
// any child whose platform is unknown/unknown): not a runnable image.
func IsAttestation(d v1.Descriptor) bool { return core.IsAttestation(d) }

// FilterIndex returns idx with only the image descriptors keep accepts.
func FilterIndex(idx v1.ImageIndex, keep Keep) (v1.ImageIndex, int, error) {
	return core.FilterIndex(idx, keep)
}

// IndexImages lists the runnable platform images an index holds.
func IndexImages(idx v1.ImageIndex) ([]item.Item, error) { return core.IndexImages(idx) }

// CheckImage reports whether every blob an image needs is readable.
func CheckImage(img v1.Image) error { return core.CheckImage(img) }

// load detects the archive's format and reads its own index once: an OCI
// layout (or a containerd export, whose index.json naming whole indexes
// is richer than its manifest.json), a docker save or crane tarball
// (manifest.json, with Docker 25+'s index.json for descriptors), or a
// legacy save with only repositories.
func load(a *core.Archive) (items, images []item.Item, err error) {
	var top *v1.IndexManifest
	if a.Has("index.json") {
		if top, err = oci.ReadTopIndex(a); err != nil && !a.Has("manifest.json") {
			return nil, nil, err
		}
	}
	switch {
	case top != nil && (!a.Has("manifest.json") || holdsIndex(top)):
		return oci.Load(a, top)
	case a.Has("manifest.json"):
		items, err = dockersave.Load(a, top)
	case a.Has("repositories"):
		items, err = dockersave.LoadLegacy(a)
	default:
		err = errors.New("no manifest.json, index.json or repositories in archive")
	}
	if err != nil {
		return nil, nil, err
	}
	return items, items, nil
}

// holdsIndex reports an index.json naming an image index.
func holdsIndex(top *v1.IndexManifest) bool {
	for _, d := range top.Manifests {
		if d.MediaType.IsIndex() {
			return true
		}
	}
	return false
}

// Artifact is a manifest that is not a runnable image (an OCI artifact:
// signature, SBOM, attestation, referrer), carried unchanged between OCI
// locations and skipped by the others.
type Artifact = core.Artifact

// IsArtifact reports an item image that is an Artifact, and what it is.
func IsArtifact(img v1.Image) (string, bool) {
	x, ok := core.AsArtifact(img)
	if !ok {
		return "", false
	}
	return x.What(), true
}

// NewArtifact is the artifact of raw, the manifest d names, read from a
// registry: blob gives each blob it names, checking its digest.
func NewArtifact(d v1.Descriptor, raw []byte, what string, blob func(v1.Descriptor) (v1.Layer, error)) (*Artifact, error) {
	return core.NewArtifact(d, raw, what, blob)
}

// ArtifactOf says what manifest raw is when it is not a runnable image
// (an OCI artifact), "" for an image manifest.
func ArtifactOf(raw []byte) string { return core.ArtifactOf(raw) }

// IsImageConfig reports a config a runnable image can have.
func IsImageConfig(raw []byte) bool { return core.IsImageConfig(raw) }

// ChildArtifact is child h of idx when it is not a runnable image (idx's
// Image gave ErrNotImage) and idx can carry it (an archive's index).
func ChildArtifact(idx v1.ImageIndex, h v1.Hash) (v1.Image, error) {
	c, ok := idx.(interface {
		Artifact(v1.Hash) (v1.Image, error)
	})
	if !ok {
		return nil, fmt.Errorf("manifest %s: not a runnable image, and this source cannot carry it: %w", h, ErrNotImage)
	}
	return c.Artifact(h)
}

// OnlyArtifacts reports an index that holds nothing but artifacts.
func OnlyArtifacts(idx v1.ImageIndex) bool { return core.OnlyArtifacts(idx) }
