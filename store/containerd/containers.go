package containerd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/store"
)

// Docker 29's containers: containers/<id>/config.v2.json in the Docker
// data root, as with overlay2, and a read-write layer that is the
// containerd snapshot keyed by the container ID (in the snapshotter the
// file's Driver names, namespace moby), its parents the -init snapshot
// and the image's chain. They are read (ps, export); creating, removing
// and mounting them needs Docker.
type containers struct{ s *Store }

var errContainersReadOnly = errors.New("containers of the containerd image store are read-only to imgtool (ps, export); create, rm and mount them with docker")

// dockerRoot is the Docker data root --root named, "" for a containerd root.
func (s *Store) containersDir() string {
	if s.root == s.ctrdRoot {
		return ""
	}
	return filepath.Join(s.root, "containers")
}

func (cs containers) List() ([]*store.Container, error) {
	dir := cs.s.containersDir()
	if dir == "" {
		return nil, nil
	}
	return store.ListContainers(dir, func(id string) *store.Container {
		c, driver, err := store.ReadContainerFile(dir, id)
		if err != nil {
			return nil // a half-created or foreign entry
		}
		if driver == "" {
			driver = "overlayfs"
		}
		c.MountID = driver + "/" + c.ID // the snapshotter and the snapshot key
		return c
	})
}

func (cs containers) Find(ref string) (*store.Container, error) {
	all, err := cs.List()
	if err != nil {
		return nil, err
	}
	return store.FindContainer(all, ref)
}

// LayerDirs are the snapshot dirs of the container's read-write snapshot
// and its parents, bottom first.
func (cs containers) LayerDirs(c *store.Container) ([]string, error) {
	snapshotter, key, _ := strings.Cut(c.MountID, "/")
	dirs, err := cs.s.snapshotDirs(snapshotter, key)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID[:min(12, len(c.ID))], err)
	}
	return dirs, nil
}

func (cs containers) RWDir(c *store.Container) (string, error) {
	dirs, err := cs.LayerDirs(c)
	if err != nil {
		return "", err
	}
	return dirs[len(dirs)-1], nil
}

func (containers) Create(v1.Hash, store.CreateOptions) (*store.Container, error) {
	return nil, errContainersReadOnly
}
func (containers) Remove(*store.Container) error          { return errContainersReadOnly }
func (containers) Mount(*store.Container) (string, error) { return "", errContainersReadOnly }
func (containers) Unmount(*store.Container) error         { return errContainersReadOnly }

// snapshotDirs follows a snapshot from containerd's metadata
// (v1/<ns>/snapshots/<snapshotter>/<key>: its backend name) into the
// snapshotter's own database (v1/snapshots/<name>: id, parent) and
// returns the snapshots/<id>/fs dirs, bottom first.
func (s *Store) snapshotDirs(snapshotter, key string) ([]string, error) {
	var name string
	err := s.view(func(tx *bolt.Tx) error {
		b := nsBucket(tx, s.ns(), []byte("snapshots"), []byte(snapshotter), []byte(key))
		if b == nil {
			return fmt.Errorf("no %s snapshot %q in namespace %s", snapshotter, key, s.ns())
		}
		name = string(b.Get([]byte("name")))
		return nil
	})
	if err != nil {
		return nil, err
	}
	snapRoot := filepath.Join(s.ctrdRoot, "io.containerd.snapshotter.v1."+snapshotter)
	db, closeDB, err := openDB(filepath.Join(snapRoot, "metadata.db"))
	if err != nil {
		return nil, err
	}
	defer closeDB()
	var dirs []string
	err = db.View(func(tx *bolt.Tx) error {
		snaps := getBucket(tx, "v1", "snapshots")
		for n := name; n != ""; {
			b := (*bolt.Bucket)(nil)
			if snaps != nil {
				b = snaps.Bucket([]byte(n))
			}
			if b == nil || len(dirs) > store.MaxLayerDepth+2 {
				return fmt.Errorf("snapshot %q: missing from the %s snapshotter", n, snapshotter)
			}
			id, _ := binary.Uvarint(b.Get([]byte("id")))
			dirs = append([]string{filepath.Join(snapRoot, "snapshots", fmt.Sprint(id), "fs")}, dirs...)
			n = string(b.Get([]byte("parent")))
		}
		return nil
	})
	return dirs, err
}

func getBucket(tx *bolt.Tx, keys ...string) *bolt.Bucket {
	b := tx.Bucket([]byte(keys[0]))
	for _, k := range keys[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket([]byte(k))
	}
	return b
}
