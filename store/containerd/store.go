// Package containerd is imgtool's second store backend: containerd's
// image store, as Docker 29 uses it by default (namespace moby) and as
// ctr, nerdctl (default) and Kubernetes (k8s.io) do. Images are records in
// containerd's bolt metadata (v1/<ns>/images) whose target is a manifest
// or index in the content store; the target digest is the image ID, as
// Docker 29 shows it.
//
// Reads work offline and while containerd runs (from a consistent copy of
// meta.db, see meta.go); writes need containerd stopped and are refused,
// naming it, while it runs. Blobs go into the content store through
// ingest/ and are recorded with the GC labels containerd's collector
// follows (containerd.io/gc.ref.content.*), so that what imgtool writes
// survives containerd's garbage collection and what rmi releases does not.
// Snapshots are not written: containerd and Docker unpack on first use.
package containerd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/store"
)

func init() {
	store.Register("containerd", func(root string) (store.Store, error) { return Open(root) })
}

// Store is a containerd root opened on one namespace.
type Store struct {
	root     string // what --root named: a containerd root or a Docker data root
	ctrdRoot string // containerd's root
	opts     store.Options

	mu      sync.Mutex
	db      *bolt.DB // open while a Reader or Writer lock is held
	closeDB func()
	depth   int
	write   bool
}

var _ store.Store = (*Store)(nil)

// Open opens the containerd store behind root (a containerd root, or a
// Docker data root using the containerd image store).
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	ctrd, err := store.ContainerdRootOf(abs)
	if err != nil {
		return nil, err
	}
	return &Store{root: abs, ctrdRoot: ctrd, opts: store.DefaultOptions()}, nil
}

// SetOptions sets the namespace and the write options.
func (s *Store) SetOptions(o store.Options) {
	if o.Namespace == "" {
		o.Namespace = store.DefaultNamespace()
	}
	s.opts = o
}

func (s *Store) ns() string     { return s.opts.Namespace }
func (s *Store) Root() string   { return s.root }
func (s *Store) Driver() string { return "containerd" }
func (s *Store) metaPath() string {
	return filepath.Join(s.ctrdRoot, "io.containerd.metadata.v1.bolt", "meta.db")
}

// writerLockPath is imgtool's writer lock for this containerd root, in
// the temp dir: nothing of imgtool's goes into containerd's root.
func (s *Store) writerLockPath() string {
	sum := sha256.Sum256([]byte(s.metaPath()))
	return filepath.Join(os.TempDir(), "imgtool-containerd-"+hex.EncodeToString(sum[:8])+".lock")
}

// Reader opens the metadata for reading (a copy while containerd runs).
func (s *Store) Reader() (func(), error) { return s.acquire(false) }

// Writer opens the metadata for writing; it refuses while containerd runs
// (or a dockerd uses the Docker data root).
func (s *Store) Writer() (func(), error) {
	if pid, ok := store.DaemonUsing(s.root); ok {
		return nil, fmt.Errorf("refusing to write: %s is in use by a running Docker daemon (pid %d) and its containerd; stop both or use another --root", s.root, pid)
	}
	return s.acquire(true)
}

// validNamespace is containerd's identifier grammar for namespaces.
var validNamespace = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

func (s *Store) acquire(write bool) (func(), error) {
	if !validNamespace.MatchString(s.ns()) || len(s.ns()) > 76 {
		return nil, fmt.Errorf("invalid containerd namespace %q (--namespace, IMGTOOL_NAMESPACE): letters and digits separated by '.', '_' or '-', e.g. moby, default, k8s.io", s.ns())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		if write && !s.write {
			return nil, fmt.Errorf("containerd store: write lock asked while reading")
		}
		s.depth++
		return s.release, nil
	}
	if write {
		// imgtool's writers queue on their own lock (kept outside
		// containerd's root), so that meta.db's lock only ever stands
		// for containerd
		unlock, err := store.Lock(s.writerLockPath(), true)
		if err != nil {
			return nil, err
		}
		db, err := openDBWrite(s.metaPath())
		if err != nil {
			unlock()
			return nil, err
		}
		// --no-sync: bolt's commits skip their fdatasync too, the same
		// trade as the content store's (a crash keeps the last committed
		// meta page; a power loss may lose the command's records).
		db.NoSync, db.NoGrowSync = s.opts.NoSync, s.opts.NoSync
		s.db, s.closeDB = db, func() { db.Close(); unlock() }
	} else {
		db, closeDB, err := openDB(s.metaPath())
		if err != nil {
			return nil, err
		}
		s.db, s.closeDB = db, closeDB
	}
	s.write, s.depth = write, 1
	return s.release, nil
}

func (s *Store) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.depth--
	if s.depth == 0 && s.db != nil {
		s.closeDB()
		s.db, s.closeDB, s.write = nil, nil, false
	}
}

// view runs fn in a read transaction, opening the metadata for this call
// if no lock holds it open.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	unlock, err := s.acquire(false)
	if err != nil {
		return err
	}
	defer unlock()
	return s.db.View(fn)
}

// update runs fn in a write transaction; the caller holds the Writer lock.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	s.mu.Lock()
	db, write := s.db, s.write
	s.mu.Unlock()
	if db == nil || !write {
		return fmt.Errorf("containerd store: write without the writer lock")
	}
	return db.Update(fn)
}

func (s *Store) Layers() store.LayerStore         { return layers{s} }
func (s *Store) Images() store.ImageStore         { return images{s} }
func (s *Store) Refs() store.RefStore             { return refs{s} }
func (s *Store) Containers() store.ContainerStore { return containers{s} }
func (s *Store) Begin() store.Tx                  { return &tx{s: s} }
