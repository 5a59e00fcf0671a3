package overlay2

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// Check verifies the store: every tag names an image, every imagedb config
// hashes to its name and has its whole layer chain, every layerdb entry is
// complete and consistent with its chain ID and parent, every overlay2 dir
// is referenced and has its diff/, link and l/ entry, every l/ link points
// at a dir, and container mounts entries are consistent. The caller holds
// the reader lock (the writer lock with Repair).
func (s *Store) Check(opts store.CheckOptions) (*store.CheckReport, error) {
	if _, err := os.Stat(s.imageDir()); errors.Is(err, os.ErrNotExist) {
		return &store.CheckReport{}, nil // an empty store
	}
	return store.RunCheck(s.scan, opts)
}

// checker is one scan's state.
type checker struct {
	s        *Store
	problems []store.Problem
	layers   map[v1.Hash]*store.Layer // complete, parseable layerdb entries
	depth    map[v1.Hash]int
	refDirs  map[string]bool // overlay2 dirs referenced by layers and mounts
	used     map[v1.Hash]bool
	links    map[string]string // l/ name -> overlay2 dir whose link file names it
	// unsure is set when a config or container could not be read: which
	// layers it uses is unknown, so no layer is removed as unused.
	unsure bool
}

func (c *checker) add(sev store.Severity, fix func() error, format string, args ...any) {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")), " ")
	c.problems = append(c.problems, store.NewProblem(sev, fix, msg))
}

func (c *checker) rel(p string) string {
	r, err := filepath.Rel(c.s.root, p)
	if err != nil {
		return p
	}
	return r
}

func removeAll(p string) func() error { return func() error { return os.RemoveAll(p) } }

func (s *Store) scan(deep bool) (*store.CheckReport, error) {
	c := &checker{s: s, layers: map[v1.Hash]*store.Layer{}, depth: map[v1.Hash]int{}, refDirs: map[string]bool{}, used: map[v1.Hash]bool{}, links: map[string]string{}}
	c.tempFiles()
	if err := c.layerDB(); err != nil {
		return nil, err
	}
	images, err := c.imageDB()
	if err != nil {
		return nil, err
	}
	if err := c.tags(images); err != nil {
		return nil, err
	}
	c.mounts(images)
	c.unused()
	c.overlay()
	if deep {
		c.deep()
	}
	return &store.CheckReport{Problems: c.problems}, nil
}

// tempFiles finds the temp files of interrupted atomic writes.
func (c *checker) tempFiles() {
	dirs := []string{c.s.imageDir(), filepath.Join(c.s.imageDir(), "imagedb", "content", "sha256")}
	metas, _ := os.ReadDir(filepath.Join(c.s.imageDir(), "imagedb", "metadata", "sha256"))
	for _, m := range metas {
		if m.IsDir() {
			dirs = append(dirs, filepath.Join(c.s.imageDir(), "imagedb", "metadata", "sha256", m.Name()))
		}
	}
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				p := filepath.Join(d, e.Name())
				c.add(store.Garbage, removeAll(p), "%s: temp file of an interrupted write", c.rel(p))
			}
		}
	}
}

// layerDB reads every layerdb entry and checks it on its own: files,
// chain ID, parent, overlay2 dir, link and lower.
func (c *checker) layerDB() error {
	tmp := filepath.Join(c.s.layerDBDir(), "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(tmp, e.Name())
		c.add(store.Garbage, removeAll(p), "%s: write-set of an interrupted layer registration", c.rel(p))
	}
	dir := filepath.Join(c.s.layerDBDir(), "sha256")
	entries, err = os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), "-removing") {
			c.add(store.Garbage, removeAll(p), "%s: layer of an interrupted removal", c.rel(p))
			continue
		}
		if !validHex(e.Name()) || !e.IsDir() {
			c.add(store.Corrupt, nil, "%s: unexpected entry in layerdb", c.rel(p))
			continue
		}
		chain := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		l, err := c.s.layer(chain)
		if err != nil {
			c.add(store.Corrupt, nil, "%s: incomplete layer: %v", c.rel(p), err)
			continue
		}
		if _, err := os.Stat(c.s.tarSplitPath(chain)); err != nil {
			c.add(store.Corrupt, nil, "%s: incomplete layer: no tar-split.json.gz", c.rel(p))
			continue
		}
		c.layers[chain] = l
		c.refDirs[l.CacheID] = true
	}
	// Chain consistency needs every entry read first.
	for chain, l := range c.layers {
		if want := imageid.ChainID(l.Parent, l.DiffID); want != chain {
			c.add(store.Corrupt, nil, "layer %s: chain ID does not match parent %s and diff %s (want %s)", chain, orNone(l.Parent), l.DiffID, want)
		}
		if l.Parent != (v1.Hash{}) && c.layers[l.Parent] == nil {
			c.add(store.Corrupt, nil, "layer %s: parent layer %s is missing", chain, l.Parent)
		}
		c.overlayDir(fmt.Sprintf("layer %s", chain), l.CacheID, c.parentCache(l))
	}
	for chain := range c.layers {
		c.depthOf(chain)
	}
	return nil
}

func (c *checker) parentCache(l *store.Layer) string {
	if p := c.layers[l.Parent]; p != nil {
		return p.CacheID
	}
	return ""
}

func (c *checker) depthOf(chain v1.Hash) int {
	if d, ok := c.depth[chain]; ok {
		return d
	}
	d := 0
	for l := c.layers[chain]; l != nil && l.Parent != (v1.Hash{}) && d <= store.MaxLayerDepth+1; l = c.layers[l.Parent] {
		d++
	}
	c.depth[chain] = d
	return d
}

func orNone(h v1.Hash) string {
	if h == (v1.Hash{}) {
		return "(none)"
	}
	return h.String()
}

func validHex(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// overlayDir checks one referenced overlay2 dir: diff/, link, its l/ entry
// and, when the parent's dir is known, lower.
func (c *checker) overlayDir(who, id, parentID string) {
	dir := filepath.Join(c.s.overlayDir(), id)
	if _, err := c.s.layerDir(id); err != nil {
		c.add(store.Corrupt, nil, "%s: overlay2 dir %s has no diff/ directory: %v", who, c.rel(dir), err)
		return
	}
	link, err := c.s.linkOf(id)
	if err != nil {
		c.add(store.Corrupt, nil, "%s: overlay2 dir %s has a missing or bad link file", who, c.rel(dir))
		return
	}
	c.links[link] = id
	if target, err := c.s.linkTarget(link); errors.Is(err, os.ErrNotExist) {
		c.add(store.Corrupt, nil, "%s: overlay2/l/%s (the link of %s) is missing", who, link, c.rel(dir))
	} else if err != nil {
		c.add(store.Corrupt, nil, "%s: %v", who, err)
	} else if target != id {
		c.add(store.Corrupt, nil, "%s: overlay2/l/%s points at %s, not ../%s/diff", who, link, target, id)
	}
	if parentID == "" {
		return
	}
	pl, err := c.s.linkOf(parentID)
	if err != nil {
		return // reported for the parent
	}
	want := "l/" + pl
	if pLower, err := c.s.lowerOf(parentID); err == nil && pLower != "" {
		want += ":" + pLower
	}
	if got, err := c.s.lowerOf(id); err != nil {
		c.add(store.Corrupt, nil, "%s: overlay2 dir %s has lower that is not a chain of l/ links (%v)", who, c.rel(dir), err)
	} else if got != want {
		c.add(store.Corrupt, nil, "%s: overlay2 dir %s has lower %q, want %q", who, c.rel(dir), got, want)
	}
}

// imageDB checks every config and returns the IDs of the images present.
func (c *checker) imageDB() (map[v1.Hash]bool, error) {
	images := map[v1.Hash]bool{}
	dir := filepath.Join(c.s.imageDir(), "imagedb", "content", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".tmp-") {
			continue // tempFiles
		}
		if !validHex(e.Name()) || !e.Type().IsRegular() {
			c.add(store.Corrupt, nil, "%s: unexpected entry in imagedb", c.rel(p))
			continue
		}
		id := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		images[id] = true
		b, err := os.ReadFile(p)
		if err != nil {
			c.add(store.Corrupt, nil, "image %s: %v", id, err)
			c.unsure = true
			continue
		}
		if got := imageid.FromBytes(b); got != id {
			c.add(store.Corrupt, nil, "image %s: config hashes to %s", id, got)
		}
		diffIDs, err := store.ParseConfig(b)
		if err != nil {
			c.add(store.Corrupt, nil, "image %s: config: %v", id, err)
			c.unsure = true // its layers cannot be told apart from unused ones
			continue
		}
		for i, chain := range imageid.ChainIDs(diffIDs) {
			c.used[chain] = true
			if c.layers[chain] == nil {
				c.add(store.Corrupt, nil, "image %s: layer %d (chain %s) is missing or incomplete", id, i, chain)
			}
		}
	}
	mdir := filepath.Join(c.s.imageDir(), "imagedb", "metadata", "sha256")
	metas, _ := os.ReadDir(mdir)
	for _, m := range metas {
		id := v1.Hash{Algorithm: "sha256", Hex: m.Name()}
		if validHex(m.Name()) && !images[id] {
			p := filepath.Join(mdir, m.Name())
			c.add(store.Garbage, removeAll(p), "%s: metadata of a removed image", c.rel(p))
		}
	}
	return images, nil
}

// tags checks that every reference names an image.
func (c *checker) tags(images map[v1.Hash]bool) error {
	tf, err := c.s.readTags()
	if err != nil {
		c.add(store.Corrupt, nil, "%v", err)
		return nil
	}
	var refs []string
	for _, m := range tf.Repositories {
		for ref := range m {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs)
	for _, ref := range refs {
		var id string
		for _, m := range tf.Repositories {
			if v, ok := m[ref]; ok {
				id = v
			}
		}
		h, err := v1.NewHash(id)
		if err != nil || !images[h] {
			ref := ref
			c.add(store.Garbage, func() error { _, err := c.s.removeTag(ref); return err }, "tag %s points at missing image %s", ref, id)
		}
	}
	return nil
}

// mounts checks containers: layerdb/mounts entries and containers/ dirs.
// A container whose config.v2.json is missing is an interrupted create or
// rm; repair removes its mounts entry and dir, after which its overlay2
// dirs are unreferenced and go too.
func (c *checker) mounts(images map[v1.Hash]bool) {
	mdir := c.s.mountsDir()
	entries, _ := os.ReadDir(mdir)
	seen := map[string]bool{}
	for _, e := range entries {
		id := e.Name()
		seen[id] = true
		cfg := filepath.Join(c.s.containersDir(), id, "config.v2.json")
		if _, err := os.Stat(cfg); errors.Is(err, os.ErrNotExist) {
			md, cd := filepath.Join(mdir, id), filepath.Join(c.s.containersDir(), id)
			c.add(store.Garbage, func() error {
				if err := os.RemoveAll(md); err != nil {
					return err
				}
				return os.RemoveAll(cd)
			}, "container %s: mounts entry without config.v2.json (interrupted create or rm)", id)
			continue
		}
		ct, err := c.s.readContainer(id)
		if err != nil {
			c.add(store.Corrupt, nil, "%v", err)
			c.unsure = true
			// Keep what it names referenced, so repair does not remove it.
			for _, k := range []string{"mount-id", "init-id"} {
				if b, err := os.ReadFile(filepath.Join(mdir, id, k)); err == nil {
					c.refDirs[strings.TrimSpace(string(b))] = true
				}
			}
			continue
		}
		c.refDirs[ct.MountID] = true
		if ct.InitID != "" {
			c.refDirs[ct.InitID] = true
		}
		top := ""
		if ct.Parent != (v1.Hash{}) {
			c.used[ct.Parent] = true
			if c.layers[ct.Parent] == nil {
				c.add(store.Corrupt, nil, "container %s: image layer %s is missing", id, ct.Parent)
			} else {
				top = c.layers[ct.Parent].CacheID
			}
		}
		if ct.Image != (v1.Hash{}) && !images[ct.Image] {
			c.add(store.Corrupt, nil, "container %s: image %s is missing", id, ct.Image)
		}
		who := "container " + id
		if ct.InitID != "" {
			c.overlayDir(who, ct.InitID, top)
			c.overlayDir(who, ct.MountID, ct.InitID)
		} else {
			c.overlayDir(who, ct.MountID, top)
		}
	}
	cdirs, _ := os.ReadDir(c.s.containersDir())
	for _, e := range cdirs {
		if seen[e.Name()] {
			continue
		}
		p := filepath.Join(c.s.containersDir(), e.Name())
		if _, err := os.Stat(filepath.Join(p, "config.v2.json")); errors.Is(err, os.ErrNotExist) {
			c.add(store.Garbage, removeAll(p), "%s: container dir without config.v2.json (interrupted create or rm)", c.rel(p))
		} else {
			c.add(store.Corrupt, nil, "container %s: no layerdb/mounts entry", e.Name())
		}
	}
}

// unused reports complete layers no image or container uses (with their
// ancestors). Repair removes them top first.
func (c *checker) unused() {
	// Ancestors of used layers are used.
	for chain := range c.used {
		l := c.layers[chain]
		for i := 0; l != nil && l.Parent != (v1.Hash{}) && i <= store.MaxLayerDepth; i++ {
			c.used[l.Parent] = true
			l = c.layers[l.Parent]
		}
	}
	var list []v1.Hash
	for chain := range c.layers {
		if !c.used[chain] {
			list = append(list, chain)
		}
	}
	// Children before parents, so removal never orphans a child entry.
	sort.Slice(list, func(i, j int) bool {
		if di, dj := c.depth[list[i]], c.depth[list[j]]; di != dj {
			return di > dj
		}
		return list[i].Hex < list[j].Hex
	})
	for _, chain := range list {
		chain := chain
		var fix func() error
		if !c.unsure {
			fix = func() error {
				if !c.s.hasLayer(chain) {
					return nil
				}
				return c.s.removeLayer(chain)
			}
		}
		c.add(store.Unused, fix, "layer %s is not used by any image or container", chain)
	}
}

// overlay checks overlay2/: unreferenced dirs and l/ links.
func (c *checker) overlay() {
	entries, _ := os.ReadDir(c.s.overlayDir())
	for _, e := range entries {
		if e.Name() == "l" || c.refDirs[e.Name()] {
			continue
		}
		p := filepath.Join(c.s.overlayDir(), e.Name())
		fix := removeAll(p)
		if id := e.Name(); validCacheID(id) {
			fix = func() error { return c.s.removeOverlayDir(id) }
		}
		c.add(store.Garbage, fix, "%s: overlay2 dir that no layer or container references", c.rel(p))
	}
	ldir := filepath.Join(c.s.overlayDir(), "l")
	links, _ := os.ReadDir(ldir)
	for _, e := range links {
		p := filepath.Join(ldir, e.Name())
		if _, ok := c.links[e.Name()]; ok {
			continue // checked with its dir
		}
		id, err := c.s.linkTarget(e.Name())
		if err == nil {
			// A link of an unreferenced dir goes with that dir.
			if _, err := c.s.layerDir(id); err == nil {
				if !c.refDirs[id] {
					continue
				}
				c.add(store.Garbage, removeAll(p), "%s: link that no overlay2 dir's link file names (-> %s)", c.rel(p), id)
				continue
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			c.add(store.Garbage, removeAll(p), "%s: %v", c.rel(p), err)
			continue
		}
		c.add(store.Garbage, removeAll(p), "%s: dangling link", c.rel(p))
	}
}

// deep regenerates every complete layer and checks its diff ID.
func (c *checker) deep() {
	var chains []v1.Hash
	for chain := range c.layers {
		chains = append(chains, chain)
	}
	sort.Slice(chains, func(i, j int) bool { return chains[i].Hex < chains[j].Hex })
	for _, chain := range chains {
		l := &storeLayer{s: c.s, info: c.layers[chain]}
		rc, err := l.Verified()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			c.add(store.Corrupt, nil, "layer %s: regenerating its tar: %v", chain, err)
		}
	}
}
