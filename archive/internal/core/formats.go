package core

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/imgtool/imgtool/tarball"
)

// The surface archive/oci and archive/dockersave read an archive through:
// members by path, small JSON within the archive's budget, blobs checked
// against their digest, and images built over the tar index.

// Has reports whether the archive holds p (symlinks followed).
func (a *Archive) Has(p string) bool { return a.ix.exists(p) }

// ReadJSON reads the small JSON file p into v and returns its bytes.
func (a *Archive) ReadJSON(p string, v any) ([]byte, error) { return a.readJSON(p, v) }

// ReadBlob reads a small blob by digest (checked against h and, when not
// 0, size) and returns it with its path.
func (a *Archive) ReadBlob(h v1.Hash, size int64) ([]byte, string, error) {
	return a.readBlob(h, size)
}

// ManifestImage is the image of the manifest blob raw at p (cached by
// digest) and its config; checkOS refuses a non-Linux image.
func (a *Archive) ManifestImage(p string, raw []byte, mt types.MediaType, digest v1.Hash, checkOS bool) (v1.Image, *v1.ConfigFile, error) {
	img, ci, err := a.manifestImage(p, raw, mt, digest, checkOS)
	if err != nil {
		return nil, nil, err
	}
	return img, ci.cf, nil
}

// Index is the image index whose manifest is raw; its children are read
// from the archive on demand.
func (a *Archive) Index(raw []byte, mt types.MediaType, digest v1.Hash) v1.ImageIndex {
	return &archiveIndex{a: a, raw: raw, mt: mt, digest: digest}
}

// ConfigAt reads and parses the config at p (once per member); an
// unparsable config is an *InvalidConfig.
func (a *Archive) ConfigAt(p string, checkOS bool) (*ConfigInfo, error) {
	return a.configAt(p, nil, checkOS)
}

// ConfigImage is the image of a config read by ConfigAt (found at
// configPath) over the layer blobs at layerPaths; descs, parallel to them,
// are their known descriptors (nil entries: unknown). manifest and mt are
// the archive's own manifest of the image, when it has one.
func (a *Archive) ConfigImage(ci *ConfigInfo, configPath string, layerPaths []string, descs []*v1.Descriptor, what string, manifest []byte, mt types.MediaType) (v1.Image, error) {
	img := &image{rawConfig: ci.raw, config: ci.cf, configPath: configPath, rawManifest: manifest, manifestMT: mt}
	var err error
	if img.layers, err = a.makeLayers(ci, layerPaths, descs, what); err != nil {
		return nil, err
	}
	return img, nil
}

// Raw is the config's bytes.
func (ci *ConfigInfo) Raw() []byte { return ci.raw }

// File is the parsed config.
func (ci *ConfigInfo) File() *v1.ConfigFile { return ci.cf }

// DiffIDs are the config's rootfs diff IDs.
func (ci *ConfigInfo) DiffIDs() []v1.Hash { return ci.diffIDs }

// Members lists the archive's member names in archive order (read only).
func (a *Archive) Members() []string { return a.ix.order }

// MemberLayer is the layer blob at p with its diff ID, hashed once per
// member (a legacy save's symlinked layer.tar resolves to its target).
func (a *Archive) MemberLayer(p string) (v1.Layer, v1.Hash, error) {
	e, err := a.ix.lookup(p)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	a.mu.Lock()
	d, ok := a.byDiff[e]
	a.mu.Unlock()
	if !ok {
		if d, err = diffIDOf(a.ix, e); err != nil {
			return nil, v1.Hash{}, fmt.Errorf("%s: %v", p, err)
		}
		a.mu.Lock()
		a.byDiff[e] = d
		a.mu.Unlock()
	}
	return &layer{ix: a.ix, ent: e, path: p, diffID: d}, d, nil
}

// diffIDOf hashes the decompressed content of a layer blob.
func diffIDOf(ix *tarIndex, e *tarEntry) (v1.Hash, error) {
	rc, _, err := tarball.Decompress(ix.section(e))
	if err != nil {
		return v1.Hash{}, err
	}
	defer rc.Close()
	return hashReader(rc)
}

// ChargeJSON counts n bytes of JSON made from the archive against its
// budget; false when it passes MaxJSONTotal.
func (a *Archive) ChargeJSON(n int64) bool { return a.jsonRead.Add(n) <= MaxJSONTotal }

// LayersImage is the image of a config over layers made by MemberLayer.
func LayersImage(ci *ConfigInfo, layers []v1.Layer) (v1.Image, error) {
	img := &image{rawConfig: ci.raw, config: ci.cf, layers: make([]*layer, len(layers))}
	for i, l := range layers {
		al, ok := l.(*layer)
		if !ok {
			return nil, fmt.Errorf("layer %d is not an archive layer", i)
		}
		img.layers[i] = al
	}
	return img, nil
}

// NotFound is the ErrMissing error for a path the archive does not hold.
func NotFound(name string) error { return notFound(name) }

// ParseConfig parses the image config raw read from p.
func ParseConfig(p string, raw []byte) (*ConfigInfo, error) { return parseConfig(p, raw) }

// CheckLinux refuses an os other than linux, as docker load does.
func CheckLinux(p, osName string) error { return checkLinux(p, osName) }
