// Package store owns imgtool's image store, whose layout is Docker's
// overlay2 data root: image/overlay2/{repositories.json,imagedb,layerdb},
// overlay2/<cache-id>/{diff,link,lower,work,committed}, overlay2/l and
// containers/. A store opened on /var/lib/docker reads and writes Docker's
// own data; writes are refused while a Docker daemon uses that root.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Store is a Docker-compatible data root.
type Store struct {
	root string
}

// DefaultRoot is $IMGTOOL_ROOT, else /var/lib/imgtool for root, else
// $XDG_DATA_HOME/imgtool (~/.local/share/imgtool).
func DefaultRoot() string {
	if r := os.Getenv("IMGTOOL_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/imgtool"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "imgtool")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "imgtool")
}

// Open opens the data root at root. A root that does not exist yet is an
// empty store; it is created on the first write.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	s := &Store{root: abs}
	if err := s.checkDriver(); err != nil {
		return nil, err
	}
	return s, nil
}

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

// checkDriver refuses data roots that are not overlay2 graphdriver stores:
// Docker's containerd image store and other storage drivers keep images
// somewhere imgtool does not read.
func (s *Store) checkDriver() error {
	if _, err := os.Stat(s.imageDir()); err == nil {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(s.root, "image"))
	if err == nil {
		for _, e := range entries {
			if e.IsDir() {
				return fmt.Errorf("%s uses Docker's %q storage driver; imgtool reads and writes only overlay2 data roots", s.root, e.Name())
			}
		}
	}
	for _, p := range []string{"containerd", "rootfs"} {
		if _, err := os.Stat(filepath.Join(s.root, p)); err == nil {
			if _, err := os.Stat(filepath.Join(s.root, "image")); errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s holds Docker's containerd image store (no image/overlay2); imgtool reads and writes only the overlay2 graphdriver store", s.root)
			}
		}
	}
	return nil
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
	for _, d := range dirs {
		if err := os.Mkdir(d.path, d.mode); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating store: %w", err)
		}
	}
	return nil
}

// Writer locks the store for writing and returns the unlock function. It
// refuses a data root that a running Docker daemon owns: dockerd keeps the
// store in memory and would overwrite or ignore what imgtool writes.
func (s *Store) Writer() (unlock func(), err error) {
	if pid, ok := daemonUsing(s.root); ok {
		return nil, fmt.Errorf("refusing to write: %s is in use by a running Docker daemon (pid %d); stop it or use another --root", s.root, pid)
	}
	if err := s.mkdirs(); err != nil {
		return nil, err
	}
	return s.lock(true)
}

// Reader takes the shared lock, so no writer removes what a reader streams.
func (s *Store) Reader() (unlock func(), err error) {
	return s.lock(false)
}
