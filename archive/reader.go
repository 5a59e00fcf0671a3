// Package archive reads and writes image archives: every `docker save`
// format (legacy ≤24, Docker 25+ hybrid OCI layout, containerd-store
// saves), plain OCI image-layout tars and directories, and ggcr/crane
// tarballs, each optionally compressed as a whole or per layer.
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
package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/tarball"
)

// Entry is one image of an archive. Multi-platform indexes give one Entry
// per platform manifest.
type Entry struct {
	Image    v1.Image
	Tags     []name.Tag
	Platform *v1.Platform // from the index descriptor, else from the config; nil if neither says
	// ManifestDigest is the digest of the archive's manifest blob for this
	// image (OCI layouts and Docker 25+ saves); zero if the archive had none.
	ManifestDigest v1.Hash
	Index          int // position in Images()
}

// Archive is an opened image archive. Close releases its file.
type Archive struct {
	f       *os.File
	ix      *tarIndex
	entries []Entry
	roots   []Root

	mu    sync.Mutex
	byMan map[v1.Hash]*image // images built from manifest blobs, by manifest digest
	byIdx map[v1.Hash]*archiveIndex
}

// Images returns the archive's images in archive order: manifest.json
// order, index.json order (depth first), or sorted repositories for a
// legacy archive without manifest.json.
func (a *Archive) Images() []Entry { return a.entries }

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
func Open(p string) (*Archive, error) {
	if p == "-" {
		return FromReader(os.Stdin)
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
		return OpenLayout(p)
	}
	if !st.Mode().IsRegular() {
		defer f.Close()
		return FromReader(f)
	}
	br := bufio.NewReaderSize(f, 16)
	if tarball.Sniff(br) != tarball.None {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		defer f.Close()
		return FromReader(f)
	}
	a, err := openIndexed(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

// FromReader reads an archive from a stream: it is decompressed (if
// needed) and spooled once into an unlinked temporary file under
// os.TempDir(), then indexed.
func FromReader(r io.Reader) (*Archive, error) {
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
	a, err := openIndexed(tmp)
	if err != nil {
		tmp.Close()
		return nil, err
	}
	return a, nil
}

// OpenLayout opens an OCI image layout directory (index.json, blobs/).
func OpenLayout(dir string) (*Archive, error) {
	ix, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	if !ix.exists("index.json") {
		ix.close()
		return nil, fmt.Errorf("%s: not an OCI image layout (no index.json)", dir)
	}
	a, err := openIndexOf(nil, ix)
	if err != nil {
		ix.close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return a, nil
}

func openIndexed(f *os.File) (*Archive, error) {
	ix, err := scanTar(f)
	if err != nil {
		return nil, err
	}
	return openIndexOf(f, ix)
}

func openIndexOf(f *os.File, ix *tarIndex) (*Archive, error) {
	var err error
	a := &Archive{f: f, ix: ix, byMan: map[v1.Hash]*image{}, byIdx: map[v1.Hash]*archiveIndex{}}
	switch {
	case ix.exists("manifest.json"):
		err = a.loadManifestJSON()
	case ix.exists("index.json"):
		err = a.loadOCI()
	case ix.exists("repositories"):
		err = a.loadLegacy()
	default:
		err = errors.New("no manifest.json, index.json or repositories in archive")
	}
	if err != nil {
		return nil, err
	}
	for i := range a.entries {
		a.entries[i].Index = i
	}
	if err := a.makeRoots(); err != nil {
		return nil, err
	}
	return a, nil
}

// ---- helpers ----------------------------------------------------------------

func (a *Archive) readJSON(p string, v any) ([]byte, error) {
	b, err := a.ix.readSmall(p)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", p, err)
	}
	return b, nil
}

type configInfo struct {
	raw     []byte
	cf      *v1.ConfigFile
	diffIDs []v1.Hash
}

// parseConfig validates a config the way docker load does.
func parseConfig(p string, raw []byte, checkOS bool) (*configInfo, error) {
	var probe struct {
		RootFS *json.RawMessage `json:"rootfs"`
		OS     string           `json:"os"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", p, err)
	}
	if probe.RootFS == nil {
		return nil, fmt.Errorf("%s: invalid image JSON, no RootFS key", p)
	}
	if checkOS && probe.OS != "" && probe.OS != "linux" {
		if probe.OS == "windows" {
			return nil, fmt.Errorf("%s: cannot load windows image on linux", p)
		}
		return nil, fmt.Errorf("%s: cannot load %s image on linux: unsupported os %s", p, probe.OS, probe.OS)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: invalid image config: %v", p, err)
	}
	return &configInfo{raw: raw, cf: cf, diffIDs: cf.RootFS.DiffIDs}, nil
}

func platformOf(cf *v1.ConfigFile) *v1.Platform {
	if cf.OS == "" && cf.Architecture == "" {
		return nil
	}
	return &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion, OSFeatures: cf.OSFeatures}
}

var hexRe = map[string]*regexp.Regexp{
	"sha256": regexp.MustCompile(`^[a-f0-9]{64}$`),
	"sha512": regexp.MustCompile(`^[a-f0-9]{128}$`),
}

// blobPath is the layout path of a digest, refusing anything but a
// well-formed sha256/sha512 digest.
func blobPath(h v1.Hash) (string, error) {
	re, ok := hexRe[h.Algorithm]
	if !ok || !re.MatchString(h.Hex) {
		return "", fmt.Errorf("invalid digest %q", h.String())
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

// readBlob reads a small blob named by a descriptor, checking size and digest.
func (a *Archive) readBlob(d descriptor) ([]byte, string, error) {
	p, err := blobPath(d.Digest)
	if err != nil {
		return nil, "", err
	}
	b, err := a.ix.readSmall(p)
	if err != nil {
		return nil, p, err
	}
	if d.Size != 0 && int64(len(b)) != d.Size {
		return nil, p, fmt.Errorf("%s: size %d does not match its descriptor (%d)", p, len(b), d.Size)
	}
	if got := digestOf(d.Digest.Algorithm, b); got != d.Digest {
		return nil, p, fmt.Errorf("%s: content does not match its digest (got %s)", p, got)
	}
	return b, p, nil
}

// makeLayers builds the layers of an image from blob paths and optional
// descriptors (nil entries where unknown).
func (a *Archive) makeLayers(ci *configInfo, paths []string, descs []*descriptor, what string) ([]*layer, error) {
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

// ---- manifest.json (docker save, all versions; crane tarballs) ---------------

type manifestItem struct {
	Config       string
	RepoTags     []string
	Layers       []string
	Parent       string `json:",omitempty"`
	LayerSources map[string]descriptorLoose
}

type descriptorLoose struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// ociFound is an image manifest discovered through index.json.
type ociFound struct {
	raw      []byte
	mt       types.MediaType
	digest   v1.Hash
	m        *v1.Manifest
	platform *v1.Platform
	annots   map[string]string // of the top-level index descriptor
	nested   bool              // found through a nested index
}

func (a *Archive) loadManifestJSON() error {
	var items []manifestItem
	if _, err := a.readJSON("manifest.json", &items); err != nil {
		return err
	}
	if len(items) == 0 {
		return errors.New("manifest.json: lists no images")
	}
	// Docker 25+ saves also carry an OCI index; use it (best effort) to
	// recover each image's manifest and layer descriptors.
	byConfig := map[v1.Hash]*ociFound{}
	if a.ix.exists("index.json") {
		if found, err := a.walkOCI(true); err == nil {
			for _, f := range found {
				if _, dup := byConfig[f.m.Config.Digest]; !dup {
					byConfig[f.m.Config.Digest] = f
				}
			}
		}
	}
	for n, it := range items {
		what := fmt.Sprintf("manifest.json: item %d", n)
		if it.Config == "" {
			return fmt.Errorf("%s: no Config", what)
		}
		raw, err := a.ix.readSmall(it.Config)
		if err != nil {
			return fmt.Errorf("%s: Config: %w", what, err)
		}
		ci, err := parseConfig(it.Config, raw, true)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		var tags []name.Tag
		for _, s := range it.RepoTags {
			t, err := reference.ParseNamedTagged(s)
			if err != nil {
				return fmt.Errorf("%s: RepoTags %q: %v", what, s, err)
			}
			tags = append(tags, t)
		}
		img := &image{rawConfig: raw, config: ci.cf, configPath: path.Clean(it.Config)}
		descs := make([]*descriptor, len(it.Layers))
		f := byConfig[imageid.FromBytes(raw)]
		matched := f != nil && len(f.m.Layers) == len(it.Layers)
		for i, p := range it.Layers {
			c := path.Clean(p)
			if matched {
				ld := f.m.Layers[i]
				if bp, err := blobPath(ld.Digest); err == nil && bp == c {
					descs[i] = &descriptor{MediaType: ld.MediaType, Digest: ld.Digest, Size: ld.Size}
					continue
				}
				matched = false
			}
			if i < len(ci.diffIDs) {
				if src, ok := it.LayerSources[ci.diffIDs[i].String()]; ok {
					if h, err := v1.NewHash(src.Digest); err == nil {
						if bp, err := blobPath(h); err == nil && bp == c {
							descs[i] = &descriptor{MediaType: types.MediaType(src.MediaType), Digest: h, Size: src.Size}
						}
					}
				}
			}
		}
		img.layers, err = a.makeLayers(ci, it.Layers, descs, what)
		if err != nil {
			return err
		}
		e := Entry{Image: img, Tags: tags, Platform: platformOf(ci.cf)}
		if matched {
			img.rawManifest, img.manifestMT = f.raw, f.mt
			e.ManifestDigest = f.digest
			if f.platform != nil {
				e.Platform = f.platform
			}
		}
		a.entries = append(a.entries, e)
	}
	return nil
}

// ---- OCI image layout --------------------------------------------------------

const maxIndexDepth = 8

func isManifestMT(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2
}

func isIndexMT(mt types.MediaType) bool {
	return mt == types.OCIImageIndex || mt == types.DockerManifestList
}

type indexLoose struct {
	MediaType types.MediaType `json:"mediaType"`
	Manifests []descriptor    `json:"manifests"`
	Config    *descriptor     `json:"config"`
}

// walkOCI returns every image manifest reachable from index.json, depth
// first. Manifests missing from nested indexes are skipped (containerd
// saves list platforms whose blobs they did not include); a missing manifest
// named directly by index.json is an error unless lenient.
func (a *Archive) walkOCI(lenient bool) ([]*ociFound, error) {
	var top indexLoose
	if _, err := a.readJSON("index.json", &top); err != nil {
		return nil, err
	}
	var out []*ociFound
	var walk func(ds []descriptor, annots map[string]string, depth int, where string) error
	walk = func(ds []descriptor, annots map[string]string, depth int, where string) error {
		if depth > maxIndexDepth {
			return fmt.Errorf("%s: indexes nested more than %d deep", where, maxIndexDepth)
		}
		for k, d := range ds {
			if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
				continue
			}
			a0 := annots
			if depth == 0 {
				a0 = d.Annotations
			}
			raw, p, err := a.readBlob(d)
			if err != nil {
				var nf bool
				if p != "" {
					_, lerr := a.ix.lookup(p)
					nf = lerr != nil
				}
				if nf && (depth > 0 || lenient) {
					continue
				}
				return fmt.Errorf("%s: manifests[%d]: %w", where, k, err)
			}
			mt := d.MediaType
			var probe indexLoose
			if err := json.Unmarshal(raw, &probe); err != nil {
				return fmt.Errorf("%s: invalid JSON: %v", p, err)
			}
			if mt == "" {
				mt = probe.MediaType
			}
			if mt == "" {
				if probe.Config != nil {
					mt = types.OCIManifestSchema1
				} else if probe.Manifests != nil {
					mt = types.OCIImageIndex
				}
			}
			switch {
			case isIndexMT(mt):
				if err := walk(probe.Manifests, a0, depth+1, p); err != nil {
					return err
				}
			case isManifestMT(mt):
				m, err := v1.ParseManifest(bytes.NewReader(raw))
				if err != nil {
					return fmt.Errorf("%s: invalid manifest: %v", p, err)
				}
				out = append(out, &ociFound{raw: raw, mt: mt, digest: d.Digest, m: m, platform: d.Platform, annots: a0, nested: depth > 0})
			}
		}
		return nil
	}
	if err := walk(top.Manifests, nil, 0, "index.json"); err != nil {
		return nil, err
	}
	return out, nil
}

// tagsFromAnnotations: io.containerd.image.name when it is a tag reference,
// else org.opencontainers.image.ref.name when it is a full name:tag
// reference (a bare tag such as "latest" gives nothing).
func tagsFromAnnotations(an map[string]string) []name.Tag {
	if s := an[annotationContainerdName]; s != "" {
		if t, err := reference.ParseNamedTagged(s); err == nil {
			return []name.Tag{t}
		}
	}
	if s := an[annotationRefName]; s != "" {
		if t, err := reference.ParseNamedTagged(s); err == nil {
			return []name.Tag{t}
		}
	}
	return nil
}

func (a *Archive) loadOCI() error {
	found, err := a.walkOCI(false)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return errors.New("index.json: no image manifests found")
	}
	// one entry per distinct manifest; tags merged in order
	byDigest := map[v1.Hash]int{}
	multi := len(found) > 1
	for _, f := range found {
		tags := tagsFromAnnotations(f.annots)
		if i, ok := byDigest[f.digest]; ok {
			e := &a.entries[i]
			for _, t := range tags {
				if !containsTag(e.Tags, t) {
					e.Tags = append(e.Tags, t)
				}
			}
			continue
		}
		img, ci, err := a.ociImage(f.raw, f.mt, f.digest, f.m, !multi || f.platform == nil)
		if err != nil {
			if f.nested && errors.Is(err, ErrMissing) {
				continue // a platform whose blobs were not saved
			}
			return err
		}
		plat := f.platform
		if plat == nil {
			plat = platformOf(ci.cf)
		}
		byDigest[f.digest] = len(a.entries)
		a.entries = append(a.entries, Entry{Image: img, Tags: tags, Platform: plat, ManifestDigest: f.digest})
	}
	return nil
}

// ociImage builds the image of a manifest blob (cached by digest).
func (a *Archive) ociImage(raw []byte, mt types.MediaType, digest v1.Hash, m *v1.Manifest, checkOS bool) (*image, *configInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if img := a.byMan[digest]; img != nil {
		return img, &configInfo{raw: img.rawConfig, cf: img.config, diffIDs: img.config.RootFS.DiffIDs}, nil
	}
	mp, _ := blobPath(digest)
	rawCfg, cp, err := a.readBlob(descriptor{Digest: m.Config.Digest, Size: m.Config.Size})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: config: %w", mp, err)
	}
	ci, err := parseConfig(cp, rawCfg, checkOS)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", mp, err)
	}
	paths := make([]string, len(m.Layers))
	descs := make([]*descriptor, len(m.Layers))
	for i, ld := range m.Layers {
		p, err := blobPath(ld.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: layer %d: %v", mp, i, err)
		}
		paths[i] = p
		descs[i] = &descriptor{MediaType: ld.MediaType, Digest: ld.Digest, Size: ld.Size}
	}
	img := &image{rawConfig: rawCfg, config: ci.cf, rawManifest: raw, manifestMT: mt, configPath: cp}
	img.layers, err = a.makeLayers(ci, paths, descs, mp)
	if err != nil {
		return nil, nil, err
	}
	a.byMan[digest] = img
	return img, ci, nil
}

func containsTag(ts []name.Tag, t name.Tag) bool {
	for _, x := range ts {
		if x.String() == t.String() {
			return true
		}
	}
	return false
}

// ---- legacy archives without manifest.json -----------------------------------

type legacyNode struct {
	id      string
	json    []byte
	parent  string
	diffIDs []v1.Hash
	hist    []history20
	config  []byte
	layers  []*layer
	done    bool
	busy    bool
}

func (a *Archive) loadLegacy() error {
	var repos map[string]map[string]string
	if _, err := a.readJSON("repositories", &repos); err != nil {
		return err
	}
	nodes := map[string]*legacyNode{}
	var ids []string
	for _, n := range a.ix.order {
		dir, file, ok := strings.Cut(n, "/")
		if ok && file == "json" && !strings.Contains(dir, "/") {
			ids = append(ids, dir)
			nodes[dir] = &legacyNode{id: dir}
		}
	}
	diffCache := map[*tarEntry]v1.Hash{}
	var build func(id string, depth int) (*legacyNode, error)
	build = func(id string, depth int) (*legacyNode, error) {
		nd := nodes[id]
		if nd == nil {
			return nil, notFound(id + "/json")
		}
		if nd.done {
			return nd, nil
		}
		if nd.busy || depth > len(nodes) {
			return nil, fmt.Errorf("%s/json: parent chain loops", id)
		}
		nd.busy = true
		defer func() { nd.busy = false }()
		var v struct {
			Parent string `json:"parent"`
			OS     string `json:"os"`
		}
		raw, err := a.readJSON(id+"/json", &v)
		if err != nil {
			return nil, err
		}
		if v.OS != "" && v.OS != "linux" {
			if v.OS == "windows" {
				return nil, fmt.Errorf("%s/json: cannot load windows image on linux", id)
			}
			return nil, fmt.Errorf("%s/json: cannot load %s image on linux: unsupported os %s", id, v.OS, v.OS)
		}
		nd.json = raw
		var diffIDs []v1.Hash
		var hist []history20
		var layers []*layer
		if v.Parent != "" {
			pid := strings.TrimPrefix(v.Parent, "sha256:")
			p, err := build(pid, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s/json: parent %s: %w", id, pid, err)
			}
			diffIDs = append(diffIDs, p.diffIDs...)
			hist = append(hist, p.hist...)
			layers = append(layers, p.layers...)
		}
		lp := id + "/layer.tar"
		le, err := a.ix.lookup(lp)
		if err != nil {
			return nil, err
		}
		d, ok := diffCache[le]
		if !ok {
			d, err = diffIDOf(a.ix, le)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", lp, err)
			}
			diffCache[le] = d
		}
		h, err := historyFromV1(raw)
		if err != nil {
			return nil, fmt.Errorf("%s/json: invalid JSON: %v", id, err)
		}
		diffIDs = append(diffIDs, d)
		hist = append(hist, h)
		layers = append(layers, &layer{ix: a.ix, ent: le, path: lp, diffID: d})
		cfg, err := configFromV1(raw, diffIDs, hist)
		if err != nil {
			return nil, fmt.Errorf("%s/json: %v", id, err)
		}
		nd.diffIDs, nd.hist, nd.layers, nd.config, nd.parent = diffIDs, hist, layers, cfg, v.Parent
		nd.done = true
		return nd, nil
	}
	isParent := map[string]bool{}
	for _, id := range ids {
		nd, err := build(id, 0)
		if err != nil {
			return err
		}
		if nd.parent != "" {
			isParent[strings.TrimPrefix(nd.parent, "sha256:")] = true
		}
	}
	type tagged struct {
		id  string
		tag name.Tag
	}
	var tl []tagged
	repoNames := make([]string, 0, len(repos))
	for r := range repos {
		repoNames = append(repoNames, r)
	}
	sort.Strings(repoNames)
	for _, r := range repoNames {
		tagNames := make([]string, 0, len(repos[r]))
		for t := range repos[r] {
			tagNames = append(tagNames, t)
		}
		sort.Strings(tagNames)
		for _, tn := range tagNames {
			id := strings.TrimPrefix(repos[r][tn], "sha256:")
			if nodes[id] == nil {
				return fmt.Errorf("repositories: %s:%s: %v", r, tn, notFound(id+"/json"))
			}
			t, err := reference.ParseNamedTagged(r + ":" + tn)
			if err != nil {
				return fmt.Errorf("repositories: %q: %v", r+":"+tn, err)
			}
			tl = append(tl, tagged{id, t})
		}
	}
	byID := map[string]int{}
	add := func(id string) (int, error) {
		if i, ok := byID[id]; ok {
			return i, nil
		}
		nd := nodes[id]
		ci, err := parseConfig(id+"/json", nd.config, false)
		if err != nil {
			return 0, err
		}
		img := &image{rawConfig: nd.config, config: ci.cf, layers: nd.layers}
		byID[id] = len(a.entries)
		a.entries = append(a.entries, Entry{Image: img, Platform: platformOf(ci.cf)})
		return byID[id], nil
	}
	for _, t := range tl {
		i, err := add(t.id)
		if err != nil {
			return err
		}
		a.entries[i].Tags = append(a.entries[i].Tags, t.tag)
	}
	for _, id := range ids {
		if !isParent[id] {
			if _, err := add(id); err != nil {
				return err
			}
		}
	}
	return nil
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
