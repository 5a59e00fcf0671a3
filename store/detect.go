package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrForeignRoot is the kind of error Open gives for a directory that holds
// something imgtool must not write into: another store kind, or files that
// are no store at all. The CLI exits 2 on it.
var ErrForeignRoot = errors.New("not an imgtool store")

// containerd's root is laid out by its plugins' IDs; these three name it.
const (
	ctrdMetaDB  = "io.containerd.metadata.v1.bolt/meta.db"
	ctrdContent = "io.containerd.content.v1.content"
	ctrdSnapPfx = "io.containerd.snapshotter.v1."
)

// Detect names the backend of a data root: "overlay2" for an overlay2
// graphdriver root (or a missing or empty directory, created on the first
// write), "containerd" for a containerd root or a Docker data root that
// uses the containerd image store. Anything else is an ErrForeignRoot.
func Detect(root string) (string, error) {
	// containerd's own layout first: an image/overlay2 inside it is not
	// Docker's (an older imgtool could make one there)
	if IsContainerdRoot(root) {
		return "containerd", nil
	}
	if _, err := os.Stat(filepath.Join(root, "image", "overlay2")); err == nil {
		// an upgraded Docker keeps its graphdriver images unless its
		// daemon.json turns the containerd store on for this very root
		if isDockerRoot(root) && snapshotterFeature() && configuredDataRoot() == canonical(root) {
			if _, err := ContainerdRootOf(root); err != nil {
				return "", err
			}
			return "containerd", nil
		}
		return "overlay2", nil
	}
	entries, err := os.ReadDir(filepath.Join(root, "image"))
	if err == nil {
		for _, e := range entries {
			if e.IsDir() {
				return "", Errorf(ErrForeignRoot, "%s uses Docker's %q storage driver; imgtool reads and writes only overlay2 data roots and the containerd image store", root, e.Name())
			}
		}
	}
	if isDockerRoot(root) {
		if _, err := ContainerdRootOf(root); err != nil {
			return "", err
		}
		return "containerd", nil
	}
	names, err := dirNames(root)
	if err != nil || len(names) == 0 || onlyOverlay2Skeleton(names) {
		// missing, empty or unreadable (overlay2 says what is wrong
		// later), or a skeleton an interrupted first write left
		return "overlay2", nil
	}
	return "", Errorf(ErrForeignRoot, "%s is not an image store (it holds %s); imgtool creates a store only in a missing or empty directory: use another --root", root, listSome(names))
}

// IsContainerdRoot reports a containerd root directory.
func IsContainerdRoot(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ctrdMetaDB)); err == nil {
		return true
	}
	if fi, err := os.Stat(filepath.Join(dir, ctrdContent)); err == nil && fi.IsDir() {
		return true
	}
	names, _ := dirNames(dir)
	for _, n := range names {
		if strings.HasPrefix(n, ctrdSnapPfx) {
			return true
		}
	}
	return false
}

// isDockerRoot reports a Docker data root by the directories dockerd
// creates in every one of them, whatever its image store.
func isDockerRoot(dir string) bool {
	for _, n := range []string{"containers", "volumes"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

// ContainerdRootOf finds the containerd root behind a Docker data root that
// uses the containerd image store: the containerd dockerd manages itself
// (<root>/containerd/daemon), else the system containerd's root (the
// "root" of $IMGTOOL_CONTAINERD_CONFIG, default /etc/containerd/config.toml,
// else /var/lib/containerd). The root itself, if it is one.
func ContainerdRootOf(root string) (string, error) {
	if IsContainerdRoot(root) {
		return root, nil
	}
	managed := filepath.Join(root, "containerd", "daemon")
	if IsContainerdRoot(managed) {
		return managed, nil
	}
	sys := systemContainerdRoot()
	if IsContainerdRoot(sys) {
		return sys, nil
	}
	how := "no image/overlay2"
	if snapshotterFeature() {
		how = "daemon.json enables containerd-snapshotter"
	}
	return "", Errorf(ErrForeignRoot, "%s is a Docker data root using the containerd image store (%s), but no containerd root was found at %s or %s; set root in $IMGTOOL_CONTAINERD_CONFIG or pass --root CONTAINERD_ROOT", root, how, managed, sys)
}

// systemContainerdRoot reads `root = "…"` from containerd's config file.
func systemContainerdRoot() string {
	cfg := os.Getenv("IMGTOOL_CONTAINERD_CONFIG")
	if cfg == "" {
		cfg = "/etc/containerd/config.toml"
	}
	f, err := os.Open(cfg)
	if err != nil {
		return "/var/lib/containerd"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			break // root is a top-level key, before any table
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "root" {
			if s, err := strconv.Unquote(strings.TrimSpace(v)); err == nil {
				return s
			}
		}
	}
	return "/var/lib/containerd"
}

// daemonJSON is the part of dockerd's daemon.json ($IMGTOOL_DOCKER_CONFIG_FILE,
// default /etc/docker/daemon.json) detection reads.
type daemonJSON struct {
	DataRoot string          `json:"data-root"`
	Features map[string]bool `json:"features"`
}

func readDaemonJSON() daemonJSON {
	path := os.Getenv("IMGTOOL_DOCKER_CONFIG_FILE")
	if path == "" {
		path = "/etc/docker/daemon.json"
	}
	var cfg daemonJSON
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &cfg)
	}
	return cfg
}

// snapshotterFeature reports features.containerd-snapshotter in daemon.json.
func snapshotterFeature() bool { return readDaemonJSON().Features["containerd-snapshotter"] }

// configuredDataRoot is the data root daemon.json names (Docker's default
// when it names none), resolved.
func configuredDataRoot() string {
	if r := readDaemonJSON().DataRoot; r != "" {
		return canonical(r)
	}
	return canonical("/var/lib/docker")
}

func dirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func listSome(names []string) string {
	if len(names) > 3 {
		return fmt.Sprintf("%s, … %d entries", strings.Join(names[:3], ", "), len(names))
	}
	return strings.Join(names, ", ")
}

// onlyOverlay2Skeleton reports a root holding nothing but the top-level
// dirs the overlay2 backend creates (its first write may stop before
// image/overlay2 exists).
func onlyOverlay2Skeleton(names []string) bool {
	for _, n := range names {
		if n != "image" && n != "overlay2" && n != "containers" {
			return false
		}
	}
	return true
}
