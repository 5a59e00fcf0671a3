// Package dir reads and writes containers/image's dir: transport, the
// layout `skopeo copy … dir:PATH` and `podman save --format docker-dir`
// write: manifest.json (an image manifest, or an index whose instances are
// <hex>.manifest.json), every blob as a file named by its sha256 hex, and
// a version file. One reader and one writer over go-containerregistry's
// partial: the package supplies raw manifests and blobs, partial makes
// them full v1.Images.
package dir

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive/ocischema"
	"github.com/imgtool/imgtool/item"
)

// Version is what containers/image writes into the version file.
const Version = "Directory Transport Version: 1.1\n"

// maxManifest bounds a manifest or config read into memory.
const maxManifest = 8 << 20

// Open reads a dir: layout as one item: an image, or an index whose
// images are read as they are asked for.
func Open(path string) (item.Item, error) {
	v, err := os.ReadFile(filepath.Join(path, "version"))
	if err != nil {
		return item.Item{}, fmt.Errorf("dir:%s: not a containers/image dir: layout (%w)", path, err)
	}
	if !strings.HasPrefix(string(v), "Directory Transport Version: 1.") {
		return item.Item{}, fmt.Errorf("dir:%s: version file says %q; want %q", path, strings.TrimSpace(string(v)), strings.TrimSpace(Version))
	}
	d := &layout{path: path}
	raw, err := d.read("manifest.json")
	if err != nil {
		return item.Item{}, err
	}
	mt, err := sniff(raw)
	if err != nil {
		return item.Item{}, fmt.Errorf("dir:%s: manifest.json: %w", path, err)
	}
	dg, _, _ := v1.SHA256(bytes.NewReader(raw))
	if mt.IsIndex() {
		return item.Item{Index: &index{d: d, raw: raw, mt: mt}, Digest: dg}, nil
	}
	img, err := d.image(raw, mt)
	if err != nil {
		return item.Item{}, err
	}
	return item.Item{Image: img, Digest: dg}, nil
}

// layout is an opened dir: directory.
type layout struct{ path string }

// read reads a small file (manifest, config), bounded.
func (d *layout) read(name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("dir:%s: %w", d.path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("dir:%s: %s: %w", d.path, name, err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("dir:%s: %s is over %d bytes", d.path, name, maxManifest)
	}
	return b, nil
}

// blobName is a blob's file name: its sha256 hex, nothing else (a digest
// from a manifest never becomes a path with a separator in it).
func blobName(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("unsupported blob digest %q", h)
	}
	return h.Hex, nil
}

func (d *layout) image(raw []byte, mt types.MediaType) (v1.Image, error) {
	if err := ocischema.CheckManifest(raw, string(mt)); err != nil {
		return nil, fmt.Errorf("dir:%s: manifest: %w", d.path, err)
	}
	ic := &imageCore{d: d, raw: raw, mt: mt}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("dir:%s: manifest: %w", d.path, err)
	}
	ic.manifest = m
	return partial.CompressedToImage(ic)
}

// imageCore is partial.CompressedImageCore over the directory's files.
type imageCore struct {
	d        *layout
	raw      []byte
	mt       types.MediaType
	manifest *v1.Manifest
}

func (c *imageCore) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *imageCore) MediaType() (types.MediaType, error) { return c.mt, nil }

func (c *imageCore) RawConfigFile() ([]byte, error) {
	name, err := blobName(c.manifest.Config.Digest)
	if err != nil {
		return nil, err
	}
	b, err := c.d.read(name)
	if err != nil {
		return nil, err
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(b)); h != c.manifest.Config.Digest {
		return nil, fmt.Errorf("dir:%s: config %s hashes to %s", c.d.path, c.manifest.Config.Digest, h)
	}
	if err := ocischema.Config(b); err != nil {
		return nil, fmt.Errorf("dir:%s: config %s: %w", c.d.path, c.manifest.Config.Digest, err)
	}
	return b, nil
}

func (c *imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.manifest.Layers {
		if l.Digest == h {
			return &blob{d: c.d, desc: l}, nil
		}
	}
	if h == c.manifest.Config.Digest {
		return &blob{d: c.d, desc: c.manifest.Config}, nil
	}
	return nil, fmt.Errorf("dir:%s: no blob %s in the manifest", c.d.path, h)
}

// blob is one layer file; its bytes are checked against the digest as
// they stream (a mismatch fails the read at EOF).
type blob struct {
	d    *layout
	desc v1.Descriptor
}

func (b *blob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *blob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *blob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *blob) Compressed() (io.ReadCloser, error) {
	name, err := blobName(b.desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(b.d.path, name))
	if err != nil {
		return nil, fmt.Errorf("dir:%s: blob %s: %w", b.d.path, b.desc.Digest, err)
	}
	return &verified{f: f, h: sha256.New(), want: b.desc.Digest, path: b.d.path}, nil
}

type verified struct {
	f    *os.File
	h    hash.Hash
	want v1.Hash
	path string
}

func (v *verified) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := fmt.Sprintf("%x", v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("dir:%s: blob %s hashes to sha256:%s", v.path, v.want, got)
		}
	}
	return n, err
}

func (v *verified) Close() error { return v.f.Close() }

// sniff is a manifest's media type: its mediaType field, else its shape.
func sniff(raw []byte) (types.MediaType, error) {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Config    *v1.Descriptor  `json:"config"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := jsonUnmarshal(raw, &probe); err != nil {
		return "", err
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType, nil
	case probe.Config != nil:
		return types.OCIManifestSchema1, nil
	case probe.Manifests != nil:
		return types.OCIImageIndex, nil
	}
	return "", errors.New("neither an image manifest nor an index")
}
