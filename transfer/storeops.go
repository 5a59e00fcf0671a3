package transfer

import (
	"errors"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/store"
	_ "github.com/imgtool/imgtool/store/containerd" // the containerd backend registers itself
	_ "github.com/imgtool/imgtool/store/overlay2"   // the overlay2 backend registers itself
)

// The store as the CLI sees it. Commands that move images go through Run;
// the ones that look at or edit the store (images, inspect, history, tag,
// rmi, ps, create, rm, mount, check) call these, each taking the lock it
// needs, so cmd/imgtool never reaches into the store itself. The record
// types are the store's, named here for the printers.
type (
	Store         = store.Store
	ImageInfo     = store.Info
	Container     = store.Container
	CreateOptions = store.CreateOptions
	CheckOptions  = store.CheckOptions
	CheckReport   = store.CheckReport
	Problem       = store.Problem
	StoreOptions  = store.Options
)

// Severities of check's problems.
const (
	Garbage = store.Garbage
	Unused  = store.Unused
)

// Typed errors callers test with errors.Is.
var (
	ErrNotFound  = store.ErrNotFound
	ErrAmbiguous = store.ErrAmbiguous
	// ErrForeignRoot: --root holds another store or other files (exit 2).
	ErrForeignRoot = store.ErrForeignRoot
)

// DefaultNamespace is the containerd namespace used without --namespace.
func DefaultNamespace() string { return store.DefaultNamespace() }

// OpenStore opens (or, empty, creates) the store at root.
func OpenStore(root string) (Store, error) { return store.Open(root) }

// OpenStoreWith is OpenStore with the global options (--max-layer-size,
// --no-sync).
func OpenStoreWith(root string, opts StoreOptions) (Store, error) { return store.OpenWith(root, opts) }

// ParseSize reads a size such as 64g, 512m or 1048576.
func ParseSize(s string) (int64, error) { return store.ParseSize(s) }

// DefaultRoot is the store used without --root.
func DefaultRoot() string { return store.DefaultRoot() }

// LookupImage resolves a reference, ID or ID prefix as docker does.
func LookupImage(st Store, name string) (*ImageInfo, error) {
	id, err := st.Refs().Resolve(name)
	if err != nil {
		return nil, err
	}
	return st.Images().Info(id)
}

// ListImages lists every image, under the store's shared lock.
func ListImages(st Store) ([]*ImageInfo, error) {
	unlock, err := st.Reader()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return st.Images().List()
}

// TagImage is docker tag.
func TagImage(st Store, src, dst string) error {
	return withWriter(st, func() error { return store.TagImage(st.Refs(), src, dst) })
}

// RemoveImages is docker rmi: each name in turn, every line it prints
// handed to out; the errors of all names joined.
func RemoveImages(st Store, names []string, force bool, out func(line string)) error {
	return withWriter(st, func() error {
		var errs []error
		for _, n := range names {
			lines, err := st.Images().Remove(n, force)
			for _, l := range lines {
				out(l)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// ListContainers lists every container, newest first.
func ListContainers(st Store) ([]*Container, error) {
	unlock, err := st.Reader()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return st.Containers().List()
}

// ImageTags are the familiar tags of an image.
func ImageTags(st Store, id v1.Hash) []string {
	tags, _ := st.Refs().TagsOf(id)
	return tags
}

// CreateContainer is docker create (nothing runs).
func CreateContainer(st Store, image string, opts CreateOptions) (*Container, error) {
	var c *Container
	err := withWriter(st, func() error {
		id, err := st.Refs().Resolve(image)
		if err != nil {
			return err
		}
		c, err = st.Containers().Create(id, opts)
		return err
	})
	return c, err
}

// WithContainer runs fn on a container found as docker finds it, under
// the writer lock.
func WithContainer(st Store, ref string, fn func(*Container) error) error {
	return withWriter(st, func() error {
		c, err := st.Containers().Find(ref)
		if err != nil {
			return err
		}
		return fn(c)
	})
}

// RemoveContainer is docker rm of one container.
func RemoveContainer(st Store, ref string) error {
	return WithContainer(st, ref, st.Containers().Remove)
}

// MountContainer overlay-mounts a container's merged view and returns it.
func MountContainer(st Store, ref string) (string, error) {
	var p string
	err := WithContainer(st, ref, func(c *Container) error {
		var err error
		p, err = st.Containers().Mount(c)
		return err
	})
	return p, err
}

// UnmountContainer undoes MountContainer.
func UnmountContainer(st Store, ref string) error {
	return WithContainer(st, ref, st.Containers().Unmount)
}

// CheckStore runs check, under the writer lock to repair, else shared.
func CheckStore(st Store, opts CheckOptions) (*CheckReport, error) {
	lock := st.Reader
	if opts.Repair {
		lock = st.Writer
	}
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return st.Check(opts)
}

// GraphName is the GraphDriver.Name docker inspect shows: the
// graphdriver, or with the containerd store the snapshotter (Docker 29).
func GraphName(st Store) string {
	if _, ok := store.Dirs(st); ok {
		return st.Driver()
	}
	return "overlayfs"
}

// GraphData is overlay2's GraphDriver.Data of an image, as docker
// inspect shows it.
func GraphData(st Store, info *ImageInfo) map[string]string {
	dirs, ok := store.Dirs(st)
	if !ok {
		return nil // Docker 29 with the containerd store shows "Data": null
	}
	if len(info.Layers) == 0 {
		return map[string]string{}
	}
	top := info.Layers[len(info.Layers)-1]
	diff, err := dirs.DiffDir(top.CacheID)
	if err != nil {
		return map[string]string{}
	}
	dir := filepath.Dir(diff)
	data := map[string]string{
		"MergedDir": filepath.Join(dir, "merged"),
		"UpperDir":  filepath.Join(dir, "diff"),
		"WorkDir":   filepath.Join(dir, "work"),
	}
	if lowers := dirs.LowerDirs(top.CacheID); len(lowers) > 0 {
		data["LowerDir"] = strings.Join(lowers, ":")
	}
	return data
}

func withWriter(st Store, fn func() error) error {
	unlock, err := st.Writer()
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}
