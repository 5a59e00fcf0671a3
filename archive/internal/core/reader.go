// Package core is the shared core of archive, archive/dockersave and
// archive/oci: the tar member index, blob reading and caching, the image,
// layer and index types, the blob plan the writers share, and layer
// compression. It serves every `docker save` format (legacy ≤24, Docker
// 25+ hybrid OCI layout, containerd-store saves), plain OCI image-layout
// tars and directories, and ggcr/crane tarballs, each optionally
// compressed as a whole or per layer; the format packages read and write
// through it, and archive.Open picks the format (core.Loader).
//
// Reading indexes the (decompressed, or spooled) tar once and serves every
// blob through an io.SectionReader; nothing is extracted and no blob other
// than small JSON is held in memory.
//
// Path rules: every path named by manifest.json, index.json, repositories
// or a legacy json is cleaned and resolved inside the archive. Symlinks in
// the archive are followed relative to their directory (at most 40 hops);
// a path, or a symlink target, that is absolute or climbs above the archive
// root is rejected with an error naming the entry rather than clamped.
// Tar member names themselves are clamped to the root (as Docker's chrooted
// untar does). When a name occurs more than once, the last member wins, as
// in an extraction.
package core

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive/ocischema"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/tarball"
)

// Loader reads an opened archive's own index (manifest.json, index.json
// or repositories) in one walk: items as listed, images with every index
// expanded. archive's Open dispatches to the format packages.
type Loader func(a *Archive) (items, images []item.Item, err error)

// Archive is an opened image archive. Close releases its file.
type Archive struct {
	f  *os.File
	ix *tarIndex
	// items is the one list the archive's index (manifest.json, index.json
	// or repositories) gives, read in one walk; images is items with every
	// index expanded to the platforms the archive holds.
	items  []item.Item
	images []item.Item
	// skipped names the top-level manifests that are not runnable images
	// (OCI artifacts: signatures, SBOMs, …), which readers leave out;
	// artifacts are those of them an OCI sink carries (all lists them
	// among the items, in index order).
	skipped   []string
	artifacts []string
	all       []item.Item
	// loadItems are what a load into the store takes when it differs
	// from items: a legacy save's chains with their intermediate images.
	loadItems []item.Item
	// jsonRead counts the JSON bytes read; index children are read on
	// demand, from any goroutine.
	jsonRead atomic.Int64

	mu     sync.Mutex
	byMan  map[v1.Hash]*image // images built from manifest blobs, by manifest digest
	byIdx  map[v1.Hash]*archiveIndex
	byCfg  map[*tarEntry]*ConfigInfo // configs by resolved member: read and parsed once
	byDiff map[*tarEntry]v1.Hash     // legacy layer diff IDs by resolved member
}

// Items returns the archive's top-level items in archive order:
// manifest.json order, index.json order, or sorted repositories for a
// legacy archive without manifest.json. An OCI index.json descriptor
// naming an image index gives one item holding the whole index;
// descriptors naming the same manifest are merged into one item.
func (a *Archive) Items() []item.Item { return a.items }

// Images returns Items with every index expanded, depth first, to the
// platform images the archive holds (platforms whose blobs were not saved
// are left out, as containerd exports list them); an image named twice is
// listed once with both names. It is derived from the same walk as Items,
// so load and convert see the same images.
func (a *Archive) Images() []item.Item { return a.images }

// Skip records a top-level manifest the reader leaves out, and why.
func (a *Archive) Skip(what string) { a.skipped = append(a.skipped, what) }

// SkipArtifact records a top-level artifact: left out of Items and
// Images, listed by AllItems.
func (a *Archive) SkipArtifact(what string) { a.artifacts = append(a.artifacts, what) }

// Skipped lists what the reader left out of Items (Skip, SkipArtifact),
// for commands to report.
func (a *Archive) Skipped() []string { return append(append([]string{}, a.artifacts...), a.skipped...) }

// SkippedByAll lists what even AllItems leaves out (Skip).
func (a *Archive) SkippedByAll() []string { return a.skipped }

// SetLoadItems records the items a load into the store takes, when they
// are more than Items (a legacy save's intermediate images).
func (a *Archive) SetLoadItems(items []item.Item) { a.loadItems = items }

// LoadItems are the items a load into the store takes: Items, plus the
// intermediate images of a legacy save's parent chains, each with its
// Parent, which docker load keeps as <none> images.
func (a *Archive) LoadItems() []item.Item {
	if a.loadItems == nil {
		return a.items
	}
	return a.loadItems
}

// SetAllItems records the archive's items with its top-level artifacts,
// in index order (the OCI reader's walk).
func (a *Archive) SetAllItems(all []item.Item) { a.all = all }

// AllItems are Items with the top-level artifacts (signatures, SBOMs,
// other OCI artifacts) among them in index order: what an OCI sink
// carries unchanged.
func (a *Archive) AllItems() []item.Item {
	if a.all == nil {
		return a.items
	}
	return a.all
}

// Close closes the archive file. Temporary spool files are unlinked as soon
// as they are created, so closing them removes them.
func (a *Archive) Close() error {
	if a != nil && a.ix != nil {
		a.ix.close()
	}
	if a == nil || a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// Open opens the archive at path ("-" reads stdin). A compressed archive
// (gzip, zstd, xz, bzip2) is decompressed once into a temporary file. A
// directory is read as an OCI image layout.
func Open(p string, load Loader) (*Archive, error) {
	if p == "-" {
		return FromReader(os.Stdin, load)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return OpenLayout(p, load)
	}
	if !st.Mode().IsRegular() {
		defer f.Close()
		return FromReader(f, load)
	}
	br := bufio.NewReaderSize(f, 16)
	if tarball.Sniff(br) != tarball.None {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		defer f.Close()
		return FromReader(f, load)
	}
	a, err := openIndexed(f, load)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

// FromReader reads an archive from a stream: it is decompressed (if
// needed) and spooled once into an unlinked temporary file under
// os.TempDir(), then indexed.
func FromReader(r io.Reader, load Loader) (*Archive, error) {
	rc, c, err := tarball.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("decompressing archive: %v", err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "imgtool-archive-*.tar")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		if c != tarball.None {
			return nil, fmt.Errorf("decompressing %s archive: %v", c, err)
		}
		return nil, fmt.Errorf("reading archive: %v", err)
	}
	a, err := openIndexed(tmp, load)
	if err != nil {
		tmp.Close()
		return nil, err
	}
	return a, nil
}

// OpenLayout opens an OCI image layout directory (index.json, blobs/).
func OpenLayout(dir string, load Loader) (*Archive, error) {
	ix, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	if !ix.exists("index.json") {
		ix.close()
		return nil, fmt.Errorf("%s: not an OCI image layout (no index.json)", dir)
	}
	a, err := openIndexOf(nil, ix, load)
	if err != nil {
		ix.close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return a, nil
}

func openIndexed(f *os.File, load Loader) (*Archive, error) {
	ix, err := scanTar(f)
	if err != nil {
		return nil, err
	}
	return openIndexOf(f, ix, load)
}

func openIndexOf(f *os.File, ix *tarIndex, load Loader) (*Archive, error) {
	a := &Archive{f: f, ix: ix, byMan: map[v1.Hash]*image{}, byIdx: map[v1.Hash]*archiveIndex{}, byCfg: map[*tarEntry]*ConfigInfo{}, byDiff: map[*tarEntry]v1.Hash{}}
	var err error
	if a.items, a.images, err = load(a); err != nil {
		return nil, err
	}
	return a, nil
}

// MaxIndexDepth bounds nested indexes (containerd nests one level; more is
// hostile).
const MaxIndexDepth = 8

// MaxJSONTotal bounds the JSON an archive may make the reader hold in all
// (each file is read once): it keeps a reader within its 64 MiB memory
// budget whatever the archive names.
const MaxJSONTotal = 24 << 20

// MaxItems caps the images of manifest.json and the descriptors of one
// index: each costs a few hundred bytes held while the archive is open.
const MaxItems = 10000

// readSmall reads a JSON member, counting it against MaxJSONTotal.
func (a *Archive) readSmall(p string) ([]byte, error) {
	e, err := a.ix.lookup(p)
	if err != nil {
		return nil, err
	}
	if e.size <= maxJSONSize && a.jsonRead.Add(e.size) > MaxJSONTotal {
		return nil, fmt.Errorf("archive entry %q: the archive's JSON files pass %d bytes in all", p, MaxJSONTotal)
	}
	return a.ix.readSmall(p)
}

// ---- helpers ----------------------------------------------------------------

func (a *Archive) readJSON(p string, v any) ([]byte, error) {
	b, err := a.readSmall(p)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", p, err)
	}
	return b, nil
}

type ConfigInfo struct {
	raw     []byte
	cf      *v1.ConfigFile
	diffIDs []v1.Hash
}

// parseConfig validates a config the way docker load does (the OS is
// checked apart, by checkLinux, since a config can be shared).
func parseConfig(p string, raw []byte) (*ConfigInfo, error) {
	var probe struct {
		RootFS *json.RawMessage `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", p, err)
	}
	if probe.RootFS == nil {
		return nil, fmt.Errorf("%s: invalid image JSON, no RootFS key", p)
	}
	if err := ocischema.Config(raw); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: invalid image config: %v", p, err)
	}
	return &ConfigInfo{raw: raw, cf: cf, diffIDs: cf.RootFS.DiffIDs}, nil
}

// checkLinux refuses another OS's image as docker load on Linux does.
func checkLinux(p, osName string) error {
	switch osName {
	case "", "linux":
		return nil
	case "windows":
		return fmt.Errorf("%s: cannot load windows image on linux", p)
	}
	return fmt.Errorf("%s: cannot load %s image on linux: unsupported os %s", p, osName, osName)
}

func PlatformOf(cf *v1.ConfigFile) *v1.Platform {
	if cf.OS == "" && cf.Architecture == "" {
		return nil
	}
	return &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion, OSFeatures: cf.OSFeatures}
}

var hexRe = map[string]*regexp.Regexp{
	"sha256": regexp.MustCompile(`^[a-f0-9]{64}$`),
	"sha512": regexp.MustCompile(`^[a-f0-9]{128}$`),
}

// BlobPath is the layout path of a digest, refusing anything but a
// well-formed sha256/sha512 digest.
func BlobPath(h v1.Hash) (string, error) {
	re, ok := hexRe[h.Algorithm]
	if !ok || !re.MatchString(h.Hex) {
		return "", fmt.Errorf("invalid digest %q", h.String())
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

// readBlob reads a small blob named by a digest (and size, 0 if unknown),
// checking both.
func (a *Archive) readBlob(h v1.Hash, size int64) ([]byte, string, error) {
	p, err := BlobPath(h)
	if err != nil {
		return nil, "", err
	}
	b, err := a.readSmall(p)
	if err != nil {
		return nil, p, err
	}
	if size != 0 && int64(len(b)) != size {
		return nil, p, fmt.Errorf("%s: size %d does not match its descriptor (%d)", p, len(b), size)
	}
	if got := digestOf(h.Algorithm, b); got != h {
		return nil, p, fmt.Errorf("%s: content does not match its digest (got %s)", p, got)
	}
	return b, p, nil
}

// configAt reads and parses the config at p once per archive member: an
// archive naming one config for many images keeps one copy (the hostile
// corpus names a 60 MB config 40 times). want, when set, is the
// descriptor the config must match.
func (a *Archive) configAt(p string, want *v1.Descriptor, checkOS bool) (*ConfigInfo, error) {
	e, err := a.ix.lookup(p)
	if err != nil {
		return nil, err
	}
	ci := a.byCfg[e]
	if ci == nil {
		var raw []byte
		if want != nil {
			raw, _, err = a.readBlob(want.Digest, want.Size)
		} else {
			raw, err = a.readSmall(p)
		}
		if err != nil {
			return nil, err
		}
		if ci, err = parseConfig(p, raw); err != nil {
			return nil, &InvalidConfig{err}
		}
		a.byCfg[e] = ci
	} else if want != nil && (imageid.FromBytes(ci.raw) != want.Digest || (want.Size != 0 && want.Size != int64(len(ci.raw)))) {
		return nil, fmt.Errorf("%s: content does not match its descriptor", p)
	}
	if checkOS {
		if err := checkLinux(p, ci.cf.OS); err != nil {
			return nil, &InvalidConfig{err}
		}
	}
	return ci, nil
}

// InvalidConfig marks a config that was read but refused (as opposed to
// one that could not be read), for messages that say which.
type InvalidConfig struct{ err error }

func (e *InvalidConfig) Error() string { return e.err.Error() }
func (e *InvalidConfig) Unwrap() error { return e.err }

// MaxLayers is Docker's limit on an image's layers (moby's layer store
// refuses a 126th); readers check it before building anything.
const MaxLayers = 125

// makeLayers builds the layers of an image from blob paths and optional
// descriptors (nil entries where unknown).
func (a *Archive) makeLayers(ci *ConfigInfo, paths []string, descs []*v1.Descriptor, what string) ([]*layer, error) {
	if len(paths) != len(ci.diffIDs) {
		return nil, fmt.Errorf("%s: invalid manifest, layers length mismatch: expected %d, got %d", what, len(ci.diffIDs), len(paths))
	}
	out := make([]*layer, len(paths))
	for i, p := range paths {
		e, err := a.ix.lookup(p)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", what, i, err)
		}
		l := &layer{ix: a.ix, ent: e, path: p, diffID: ci.diffIDs[i]}
		if descs != nil && descs[i] != nil {
			d := descs[i]
			if d.Size != 0 && d.Size != e.size {
				return nil, fmt.Errorf("%s: layer %d: %q is %d bytes, its descriptor says %d", what, i, p, e.size, d.Size)
			}
			l.descDigest, l.descMT = d.Digest, d.MediaType
		}
		out[i] = l
	}
	return out, nil
}
