// Package overlay2 is the store backend for Docker's overlay2 graphdriver
// data root: image/overlay2/{repositories.json,imagedb,layerdb},
// overlay2/<cache-id>/{diff,link,lower,work,committed}, overlay2/l and
// containers/. It implements the interfaces of package store; callers
// reach it through store.Open, for which it registers itself.
package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imgtool/imgtool/store"
)

func init() {
	store.Register("overlay2", func(root string) (store.Store, error) { return Open(root) })
}

// Store is an overlay2 data root.
type Store struct {
	root string
	opts store.Options
	// keepMarker: a killed writer's leftovers could not be removed, so
	// the in-progress marker stays for the next writer (writer.go).
	keepMarker bool
	tagCache   tagCache // repositories.json as last read (tagindex.go)
}

var _ store.Store = (*Store)(nil)

// Open opens the overlay2 data root at root. A root that does not exist
// yet is an empty store; it is created on the first write. Detection of
// other layouts is store.Open's.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if driver, err := store.Detect(abs); err != nil {
		return nil, err
	} else if driver != "overlay2" {
		return nil, fmt.Errorf("%s is a %s data root, not overlay2", abs, driver)
	}
	return &Store{root: abs, opts: store.DefaultOptions()}, nil
}

// Driver is Docker's name for this storage driver.
func (s *Store) Driver() string { return "overlay2" }

// Root is the data root's absolute path.
func (s *Store) Root() string { return s.root }

func (s *Store) imageDir() string   { return filepath.Join(s.root, "image", "overlay2") }
func (s *Store) layerDBDir() string { return filepath.Join(s.imageDir(), "layerdb") }
func (s *Store) overlayDir() string { return filepath.Join(s.root, "overlay2") }

func (s *Store) contentPath(hex string) string {
	return filepath.Join(s.imageDir(), "imagedb", "content", "sha256", hex)
}
func (s *Store) metadataDir(hex string) string {
	return filepath.Join(s.imageDir(), "imagedb", "metadata", "sha256", hex)
}
func (s *Store) layerPath(chainHex string) string {
	return filepath.Join(s.layerDBDir(), "sha256", chainHex)
}

// mkdirs creates the store skeleton with Docker's modes.
func (s *Store) mkdirs() error {
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{s.root, 0o711},
		{filepath.Join(s.root, "image"), 0o700},
		{s.imageDir(), 0o700},
		{filepath.Join(s.imageDir(), "imagedb"), 0o700},
		{filepath.Join(s.imageDir(), "imagedb", "content"), 0o700},
		{filepath.Join(s.imageDir(), "imagedb", "content", "sha256"), 0o700},
		{filepath.Join(s.imageDir(), "imagedb", "metadata"), 0o700},
		{filepath.Join(s.imageDir(), "imagedb", "metadata", "sha256"), 0o700},
		{s.layerDBDir(), 0o700},
		{filepath.Join(s.layerDBDir(), "sha256"), 0o700},
		{filepath.Join(s.layerDBDir(), "tmp"), 0o755},
		{s.overlayDir(), 0o710},
		{filepath.Join(s.overlayDir(), "l"), 0o700},
	}
	// A missing parent of --root is created, as dockerd creates its
	// --data-root.
	if err := os.MkdirAll(filepath.Dir(s.root), 0o755); err != nil {
		return fmt.Errorf("creating store: %w", err)
	}
	for _, d := range dirs {
		if err := os.Mkdir(d.path, d.mode); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating store: %w", err)
		}
	}
	return nil
}

// Writer locks the store for writing and returns the unlock function. It
// refuses a data root that a running Docker daemon owns: dockerd keeps the
// store in memory and would overwrite or ignore what imgtool writes. A
// writer killed before its unlock leaves the in-progress marker; the next
// writer then removes what it left (writer.go).
func (s *Store) Writer() (unlock func(), err error) {
	if pid, ok := store.DaemonUsing(s.root); ok {
		return nil, fmt.Errorf("refusing to write: %s is in use by a running Docker daemon (pid %d); stop it or use another --root", s.root, pid)
	}
	if err := s.mkdirs(); err != nil {
		return nil, err
	}
	release, err := store.Lock(s.lockPath(), true)
	if err != nil {
		return nil, err
	}
	if err := s.beginWrite(); err != nil {
		release()
		return nil, err
	}
	return func() { s.endWrite(); release() }, nil
}

// Reader takes the shared lock, so no writer removes what a reader streams.
func (s *Store) Reader() (unlock func(), err error) {
	return store.Lock(s.lockPath(), false)
}

// lockPath is imgtool's lock file, beside repositories.json.
func (s *Store) lockPath() string { return filepath.Join(s.imageDir(), "imgtool.lock") }
