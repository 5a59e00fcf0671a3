package transfer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ContainerState is what docker ps shows of a container beyond the
// store's record: its state times, exit code and networks, from its
// config.v2.json.
type ContainerState struct {
	Running, Paused, Restarting, Dead, Removing bool
	ExitCode                                    int
	StartedAt, FinishedAt                       time.Time
	Networks                                    []string // sorted names
}

// ContainerStateOf reads a container's state; a file that cannot be read
// gives the zero state.
func ContainerStateOf(st Store, c *Container) ContainerState {
	var cf struct {
		State struct {
			Running, Paused, Restarting, Dead bool
			RemovalInProgress                 bool
			ExitCode                          int
			StartedAt, FinishedAt             time.Time
		}
		NetworkSettings struct {
			Networks map[string]json.RawMessage
		}
	}
	b, err := os.ReadFile(filepath.Join(st.Root(), "containers", c.ID, "config.v2.json"))
	if err != nil || json.Unmarshal(b, &cf) != nil {
		return ContainerState{}
	}
	s := cf.State
	out := ContainerState{Running: s.Running, Paused: s.Paused, Restarting: s.Restarting, Dead: s.Dead,
		Removing: s.RemovalInProgress, ExitCode: s.ExitCode, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
	for n := range cf.NetworkSettings.Networks {
		out.Networks = append(out.Networks, n)
	}
	sort.Strings(out.Networks)
	return out
}

// PruneOptions say which images image prune removes.
type PruneOptions struct {
	All  bool                  // every image no container uses, not only dangling ones
	Keep func(*ImageInfo) bool // false leaves the image (until=, label= filters)
}

// PruneImages is docker image prune: dangling images (untagged, without
// children), or with All every image no container uses; an untagged parent
// left childless goes too. Docker's lines ("untagged: …", "deleted: …")
// go to out; it returns the bytes of the layers removed.
func PruneImages(st Store, opts PruneOptions, out func(string)) (int64, error) {
	var reclaimed int64
	infos, err := ListImages(st) // List takes the shared lock itself
	if err != nil {
		return 0, err
	}
	err = withWriter(st, func() error {
		sizes := map[string]int64{}
		for _, i := range infos {
			for _, l := range i.Layers {
				sizes[l.ChainID.String()] = l.Size
			}
		}
		for _, i := range pruneCandidates(st, infos, opts) {
			pruneOne(st, i, opts.All, out)
		}
		for chain, size := range sizes {
			if h, err := v1.NewHash(chain); err == nil && !st.Layers().Has(h) {
				reclaimed += size
			}
		}
		return nil
	})
	return reclaimed, err
}

// pruneCandidates are the images prune looks at: without All only heads
// (images no other image names as parent), never an untagged parent.
func pruneCandidates(st Store, infos []*ImageInfo, opts PruneOptions) []*ImageInfo {
	hasChild := map[string]bool{}
	for _, i := range infos {
		if i.Parent != "" {
			hasChild[i.Parent] = true
		}
	}
	var out []*ImageInfo
	for _, i := range infos {
		if hasChild[i.ID.String()] && (!opts.All || len(i.Tags) == 0) {
			continue
		}
		if opts.Keep != nil && !opts.Keep(i) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// pruneOne removes one image as the daemon's prune does: by each of its
// references (only when all, or when none is a tag), else by ID; a
// conflict (a container uses it) leaves it quietly.
func pruneOne(st Store, info *ImageInfo, all bool, out func(string)) {
	emit := func(lines []string) {
		for _, l := range lines {
			if k, v, ok := strings.Cut(l, ": "); ok {
				l = strings.ToLower(k) + ": " + v
			}
			out(l)
		}
	}
	if usedByContainer(st, info.ID) {
		return
	}
	if len(info.Tags) > 0 {
		for _, t := range info.Tags {
			if !all && !strings.Contains(t, "@") {
				return // a tagged image is not dangling
			}
		}
		for _, t := range info.Tags {
			lines, _ := st.Images().Remove(t, false)
			emit(lines)
		}
	} else {
		lines, err := st.Images().Remove(info.ID.String(), false)
		if err != nil {
			return
		}
		emit(lines)
	}
	pruneParents(st, info.Parent, emit)
}

// pruneParents removes untagged parents left without children, as the
// daemon's delete with prune does.
func pruneParents(st Store, parent string, emit func([]string)) {
	for parent != "" {
		id, err := v1.NewHash(parent)
		if err != nil || !imageExists(st, id) {
			return
		}
		if tags, _ := st.Refs().TagsOf(id); len(tags) > 0 || usedByContainer(st, id) {
			return
		}
		lines, err := st.Images().Remove(id.String(), false)
		if err != nil {
			return
		}
		emit(lines)
		parent = st.Images().Metadata(id, "parent")
	}
}

func imageExists(st Store, id v1.Hash) bool {
	_, err := st.Images().Info(id)
	return err == nil
}

func usedByContainer(st Store, id v1.Hash) bool {
	cs, _ := st.Containers().List()
	for _, c := range cs {
		if c.Image == id {
			return true
		}
	}
	return false
}
