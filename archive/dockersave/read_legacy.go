package dockersave

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive/internal/core"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
)

// legacyNode is one v1 image directory (ID/json, ID/layer.tar) of a
// pre-1.10 save. Its chain (diff IDs, history, layers) includes its
// parents'; chains are at most MaxLayers long, checked on the way down, so
// copying them per node costs at most MaxLayers per node.
type legacyNode struct {
	parent  string
	diffIDs []v1.Hash
	hist    []history20
	json    []byte // its own v1 json; the config is made only for items
	layers  []v1.Layer
	done    bool
	busy    bool
}

// legacyReader reads the v1 image directories of one archive.
type legacyReader struct {
	a     *core.Archive
	nodes map[string]*legacyNode
	ids   []string // v1 IDs in archive order
	items []item.Item
	// visible is how many of items are the archive's images (tagged, and
	// untagged tops); the rest are the intermediate images of chains.
	visible int
}

// LoadLegacy reads a legacy docker save without manifest.json: the images
// repositories tags, then the untagged tops of the <v1id>/json parent
// chains, in archive order. The archive's LoadItems add the chains'
// intermediate images, each with its Parent, as docker load keeps them.
func LoadLegacy(a *core.Archive) ([]item.Item, error) {
	var repos map[string]map[string]string
	if _, err := a.ReadJSON("repositories", &repos); err != nil {
		return nil, err
	}
	r := &legacyReader{a: a, nodes: map[string]*legacyNode{}}
	if err := r.load(repos); err != nil {
		return nil, err
	}
	a.SetLoadItems(r.loadOrder())
	return r.items[:r.visible], nil
}

// loadOrder is the items of a load: the intermediate images first,
// parents before children (as docker's legacy load creates them), then
// the archive's images, so load's last line stays the tagged image's.
func (r *legacyReader) loadOrder() []item.Item {
	mid := append([]item.Item{}, r.items[r.visible:]...)
	sort.SliceStable(mid, func(i, j int) bool { return layerCount(mid[i]) < layerCount(mid[j]) })
	return append(mid, r.items[:r.visible]...)
}

func layerCount(it item.Item) int {
	ls, err := it.Image.Layers()
	if err != nil {
		return 0
	}
	return len(ls)
}

// load builds every node, then adds the tagged images and the untagged tops.
func (r *legacyReader) load(repos map[string]map[string]string) error {
	for _, n := range r.a.Members() {
		dir, file, ok := strings.Cut(n, "/")
		if ok && file == "json" && !strings.Contains(dir, "/") {
			r.ids = append(r.ids, dir)
			r.nodes[dir] = &legacyNode{}
		}
	}
	isParent := map[string]bool{}
	for _, id := range r.ids {
		nd, err := r.build(id, 0)
		if err != nil {
			return err
		}
		if nd.parent != "" {
			isParent[strings.TrimPrefix(nd.parent, "sha256:")] = true
		}
	}
	tl, err := r.tagged(repos)
	if err != nil {
		return err
	}
	byID := map[string]int{}
	for _, t := range tl {
		i, err := r.add(byID, t.id)
		if err != nil {
			return err
		}
		r.items[i].Tags = append(r.items[i].Tags, t.tag)
	}
	for _, id := range r.ids {
		if !isParent[id] {
			if _, err := r.add(byID, id); err != nil {
				return err
			}
		}
	}
	// Docker's legacy load makes an image of every v1 directory, parents
	// first, and links each to its parent: the intermediate images of a
	// chain stay as <none> rows of images -a. They are items of a load
	// only (LoadItems), after the tagged images and tops.
	r.visible = len(r.items)
	for _, id := range r.ids {
		if _, err := r.add(byID, id); err != nil {
			return err
		}
	}
	for _, id := range r.ids {
		if p := strings.TrimPrefix(r.nodes[id].parent, "sha256:"); p != "" {
			r.items[byID[id]].Parent = r.items[byID[p]].ID()
		}
	}
	return nil
}

// build reads node id and its parents. depth counts the layers below the
// caller, so a chain longer than Docker's layer limit fails at its 126th
// link instead of after reading the rest.
func (r *legacyReader) build(id string, depth int) (*legacyNode, error) {
	nd := r.nodes[id]
	if nd == nil {
		return nil, core.NotFound(id + "/json")
	}
	if nd.done {
		return nd, nil
	}
	if nd.busy {
		return nil, fmt.Errorf("%s/json: parent chain loops", id)
	}
	if depth >= core.MaxLayers {
		return nil, fmt.Errorf("%s/json: parent chain longer than %d layers: max depth exceeded", id, core.MaxLayers)
	}
	nd.busy = true
	defer func() { nd.busy = false }()
	var v struct {
		Parent string `json:"parent"`
		OS     string `json:"os"`
	}
	raw, err := r.a.ReadJSON(id+"/json", &v)
	if err != nil {
		return nil, err
	}
	if err := core.CheckLinux(id+"/json", v.OS); err != nil {
		return nil, err
	}
	if v.Parent != "" {
		pid := strings.TrimPrefix(v.Parent, "sha256:")
		p, err := r.build(pid, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s/json: parent %s: %w", id, pid, err)
		}
		if len(p.layers) >= core.MaxLayers {
			return nil, fmt.Errorf("%s/json: parent chain longer than %d layers: max depth exceeded", id, core.MaxLayers)
		}
		nd.diffIDs = append(nd.diffIDs, p.diffIDs...)
		nd.hist = append(nd.hist, p.hist...)
		nd.layers = append(nd.layers, p.layers...)
	}
	if err := r.addLayer(nd, id, raw); err != nil {
		return nil, err
	}
	nd.parent, nd.done = v.Parent, true
	return nd, nil
}

// addLayer appends id's own layer to its chain and makes its config.
func (r *legacyReader) addLayer(nd *legacyNode, id string, raw []byte) error {
	lp := id + "/layer.tar"
	l, d, err := r.a.MemberLayer(lp)
	if err != nil {
		return err
	}
	h, err := historyFromV1(raw)
	if err != nil {
		return fmt.Errorf("%s/json: invalid JSON: %v", id, err)
	}
	nd.diffIDs = append(nd.diffIDs, d)
	nd.hist = append(nd.hist, h)
	nd.layers = append(nd.layers, l)
	nd.json = raw
	return nil
}

type legacyTag struct {
	id  string
	tag name.Tag
}

// tagged lists repositories' tags sorted by repository, then tag (the
// file is a JSON object: it has no order of its own).
func (r *legacyReader) tagged(repos map[string]map[string]string) ([]legacyTag, error) {
	var tl []legacyTag
	repoNames := make([]string, 0, len(repos))
	for n := range repos {
		repoNames = append(repoNames, n)
	}
	sort.Strings(repoNames)
	for _, rn := range repoNames {
		tagNames := make([]string, 0, len(repos[rn]))
		for t := range repos[rn] {
			tagNames = append(tagNames, t)
		}
		sort.Strings(tagNames)
		for _, tn := range tagNames {
			id := strings.TrimPrefix(repos[rn][tn], "sha256:")
			if r.nodes[id] == nil {
				return nil, fmt.Errorf("repositories: %s:%s: %v", rn, tn, core.NotFound(id+"/json"))
			}
			t, err := reference.ParseNamedTagged(rn + ":" + tn)
			if err != nil {
				return nil, fmt.Errorf("repositories: %q: %v", rn+":"+tn, err)
			}
			tl = append(tl, legacyTag{id, t})
		}
	}
	return tl, nil
}

// add makes node id an item once.
func (r *legacyReader) add(byID map[string]int, id string) (int, error) {
	if i, ok := byID[id]; ok {
		return i, nil
	}
	nd := r.nodes[id]
	config, err := configFromV1(nd.json, nd.diffIDs, nd.hist)
	if err != nil {
		return 0, fmt.Errorf("%s/json: %v", id, err)
	}
	// A config repeats its parents' history: count it against the JSON
	// budget, or tagging every link of a long chain of large histories
	// would be quadratic in memory.
	if !r.a.ChargeJSON(int64(len(config))) {
		return 0, fmt.Errorf("%s/json: the images' configs pass %d bytes in all", id, core.MaxJSONTotal)
	}
	ci, err := core.ParseConfig(id+"/json", config)
	if err != nil {
		return 0, err
	}
	img, err := core.LayersImage(ci, nd.layers)
	if err != nil {
		return 0, err
	}
	byID[id] = len(r.items)
	r.items = append(r.items, item.Item{Image: img, Platform: core.PlatformOf(ci.File())})
	return byID[id], nil
}
