package dir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/item"
)

// Write writes one item as a dir: layout at path, as containers/image
// does: blobs as the source stores them (compressed or not), the image's
// manifest (or the index and its instances' manifests) byte for byte. The
// layout is built in a temp dir beside path and renamed into place, so a
// failed write leaves nothing; an existing path must be empty or a dir:
// layout (which is replaced), never another directory.
func Write(path string, it item.Item) error {
	if err := checkTarget(path); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	w := &writer{dir: tmp, seen: map[v1.Hash]bool{}}
	switch {
	case it.Index != nil:
		err = w.index(it.Index, "manifest.json")
	case it.Image != nil && it.Digest == (v1.Hash{}):
		err = w.synthesized(it.Image)
	case it.Image != nil:
		err = w.image(it.Image, "manifest.json")
	default:
		err = errors.New("nothing to write")
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "version"), []byte(Version), 0o644)
	}
	if err != nil {
		return fmt.Errorf("dir:%s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(path); err != nil { // checked above: empty or a dir: layout
		return err
	}
	return os.Rename(tmp, path)
}

// checkTarget refuses to replace anything but an empty directory or an
// earlier dir: layout.
func checkTarget(path string) error {
	entries, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dir:%s: %w", path, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(path, "version")); err != nil {
		return fmt.Errorf("dir:%s: refusing to overwrite a non-empty directory that is not a dir: layout", path)
	}
	return nil
}

type writer struct {
	dir  string
	seen map[v1.Hash]bool
}

func (w *writer) image(img v1.Image, manifestName string) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	return w.imageWith(img, raw, manifestName)
}

// synthesized writes an image that has no manifest of its own (a docker
// save image, a store image) with the manifest containers/image gives a
// docker-archive: image, so the layout is byte-identical to skopeo's:
// Docker schema 2, every layer typed diff.tar.gzip whatever its bytes
// (containers/image's docker-archive source declares them so; readers
// sniff the real compression).
func (w *writer) synthesized(img v1.Image) error {
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	m.Config = v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfg))}
	if m.Config.Digest, err = img.ConfigName(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d := v1.Descriptor{MediaType: types.DockerLayer}
		if d.Digest, err = l.Digest(); err != nil {
			return err
		}
		if d.Size, err = l.Size(); err != nil {
			return err
		}
		m.Layers = append(m.Layers, d)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.imageWith(img, raw, "manifest.json")
}

func (w *writer) imageWith(img v1.Image, raw []byte, manifestName string) error {
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	if err := w.small(cfgName, cfg); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		if err := w.layer(l); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(w.dir, manifestName), raw, 0o644)
}

func (w *writer) index(idx v1.ImageIndex, manifestName string) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		name, err := blobName(d.Digest)
		if err != nil {
			return err
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err == nil {
				err = w.index(child, name+".manifest.json")
			}
			if err != nil {
				return err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err == nil {
				err = w.image(img, name+".manifest.json")
			}
			if err != nil {
				return err
			}
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(w.dir, manifestName), raw, 0o644)
}

func (w *writer) small(h v1.Hash, b []byte) error {
	name, err := blobName(h)
	if err != nil || w.seen[h] {
		return err
	}
	w.seen[h] = true
	return os.WriteFile(filepath.Join(w.dir, name), b, 0o644)
}

// layer copies a layer blob as stored; the source checks its digest as
// it streams (every imgtool layer does).
func (w *writer) layer(l v1.Layer) error {
	h, err := l.Digest()
	if err != nil {
		return err
	}
	name, err := blobName(h)
	if err != nil || w.seen[h] {
		return err
	}
	w.seen[h] = true
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("layer %s: %w", h, err)
	}
	return f.Close()
}
