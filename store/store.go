// Package store is imgtool's image store, split the way moby splits it:
// a layer store, an image store, a reference store and the containers,
// each a small interface, with the storage backend behind them. The
// backend-neutral parts live here: the interfaces, the shared types, the
// typed errors, config checks, locking and the check/repair loop.
//
// Two backends register themselves (Register) and are picked by what the
// root holds (Detect): store/overlay2, Docker's overlay2 graphdriver data
// root (image/overlay2/{repositories.json,imagedb,layerdb},
// overlay2/<cache-id>, containers/), and store/containerd, containerd's
// image store (Docker 29's default: content store + bolt metadata). Both
// satisfy Store and its sub-stores; what only unpacked layers have (their
// directories) is the optional LayerDirs. Writes are refused while the
// daemon that owns the root (dockerd, containerd) runs.
package store

import (
	"context"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/reference"
)

// Store is an opened data root: its four sub-stores, its lock, the write
// transaction and the consistency check.
type Store interface {
	Root() string   // the data root's absolute path
	Driver() string // the backend's name, as docker info shows it
	// Reader takes the shared lock, so no writer removes what a reader
	// streams. It works on a store the user can only read.
	Reader() (unlock func(), err error)
	// Writer takes the exclusive lock, creating the store if needed. It
	// refuses a data root that a running Docker daemon owns.
	Writer() (unlock func(), err error)

	Layers() LayerStore
	Images() ImageStore
	Refs() RefStore
	Containers() ContainerStore

	// Begin starts a write transaction; the caller holds the writer lock.
	Begin() Tx
	// Check verifies the store (the caller holds the reader lock, the
	// writer lock with Repair).
	Check(opts CheckOptions) (*CheckReport, error)
}

// LayerStore is the registered layers by chain ID: Docker's layerdb
// (overlay2), the chains of the images' configs (containerd).
type LayerStore interface {
	Has(chain v1.Hash) bool
	Get(chain v1.Hash) (*Layer, error)
	// Chain returns the layers of a chain, base first.
	Chain(top v1.Hash) ([]*Layer, error)
}

// LayerDirs is what a LayerStore whose layers are unpacked directories
// (overlay2) adds; a backend that keeps layers as blobs (containerd) has
// none, and its layers are read as tars.
type LayerDirs interface {
	// DiffDir is the content directory of a layer or container layer,
	// after the metadata checks; DiffDirs maps it over layers.
	DiffDir(cacheID string) (string, error)
	DiffDirs(layers []*Layer) ([]string, error)
	// LowerDirs lists the content dirs below and including cacheID, top
	// first, as GraphDriver.Data shows them.
	LowerDirs(cacheID string) []string
}

// Dirs returns a store's layer directories, if its backend has them.
func Dirs(st Store) (LayerDirs, bool) {
	d, ok := st.Layers().(LayerDirs)
	return d, ok
}

// ImageStore is the images by ID: Docker's imagedb (the config digest),
// containerd's image records (the target digest, as Docker 29).
type ImageStore interface {
	IDs() ([]v1.Hash, error)
	Get(id v1.Hash) (Image, error)
	// Config is the config bytes, verified against the ID.
	Config(id v1.Hash) ([]byte, error)
	// Metadata reads one of the image's metadata keys; "" if absent.
	Metadata(id v1.Hash, key string) string
	// Parent is the recorded parent image; zero if none.
	Parent(id v1.Hash) v1.Hash
	Info(id v1.Hash) (*Info, error)
	// List returns every image whose layers are all present, newest first.
	List() ([]*Info, error)
	// Remove is docker rmi for one argument; it returns Docker's
	// "Untagged: …" / "Deleted: …" lines. Conflicts are ErrConflict.
	Remove(arg string, force bool) ([]string, error)
}

// RefStore is the references: Docker's repositories.json, containerd's
// image names.
type RefStore interface {
	Tags() ([]Tag, error)
	TagsOf(id v1.Hash) ([]string, error)
	// Resolve finds the image a user names: full ID, reference, ID prefix.
	Resolve(ref string) (v1.Hash, error)
	// SetMany points each set's refs at its image in one atomic write of
	// the tag records; lastUpdated records the time as Docker's tag
	// operations do. TagImage and SetTags are built on it.
	SetMany(sets []TagSet, lastUpdated bool) ([][]TagResult, error)
	// Remove deletes one familiar reference; it reports whether it existed.
	Remove(ref string) (bool, error)
}

// ContainerStore is the containers (containers/ and their layers).
type ContainerStore interface {
	List() ([]*Container, error)
	// Find looks a container up as Docker does: full ID, name, unique
	// prefix (ErrNotFound, ErrAmbiguous).
	Find(ref string) (*Container, error)
	Create(image v1.Hash, opts CreateOptions) (*Container, error)
	Remove(c *Container) error
	// RWDir is the read-write layer's directory; LayerDirs the content
	// dirs of the merged view, bottom first.
	RWDir(c *Container) (string, error)
	LayerDirs(c *Container) ([]string, error)
	Mount(c *Container) (string, error)
	Unmount(c *Container) error
}

// Tx collects the layers and images of one write (a load, an import, a
// commit) so that either all of it lands or nothing. Call Abort if Commit
// is not reached.
type Tx interface {
	// AddImage stages an image's missing layers and its config.
	AddImage(img v1.Image, parent v1.Hash) (v1.Hash, error)
	// AddLayer stages a layer whose diff ID comes out of the stream.
	AddLayer(r io.Reader, parent v1.Hash) (diffID, chain v1.Hash, err error)
	// AddConfig stages a config over layers registered or staged.
	AddConfig(config []byte, parent v1.Hash) (v1.Hash, error)
	// Extract unpacks every layer staged by AddImage.
	Extract(ctx context.Context, progress func(diffID v1.Hash, done bool)) error
	NewLayers() int
	Commit() error
	Abort()
}

// IndexTx is a Tx whose store records a multi-platform image as its
// index (the containerd store, as Docker 29 and ctr images import do):
// the image ID is the index digest.
type IndexTx interface {
	Tx
	// AddIndex stages idx's bytes as they are, with images (children of
	// idx or of an index below it, by manifest digest) and the GC labels
	// from each index to its children: those staged, or with labelAll all
	// of them, present or not (containerd labels what its platform
	// matcher takes: all on a pull, and on Docker 29's load without
	// --platform); children not given are left out. It returns the index
	// digest.
	AddIndex(idx v1.ImageIndex, images map[v1.Hash]v1.Image, labelAll bool) (v1.Hash, error)
}

// KeepsIndexes reports a store whose transactions are IndexTx.
func KeepsIndexes(st Store) bool {
	k, ok := st.(interface{ KeepsIndexes() bool })
	return ok && k.KeepsIndexes()
}

// IDIsConfigDigest reports whether a store image's ID is its config's
// digest (overlay2, Docker's classic store) rather than the digest of the
// manifest or index its record targets (the containerd store, Docker 29).
func IDIsConfigDigest(img Image) bool {
	t, ok := img.(interface{ IDIsTarget() bool })
	return !ok || !t.IDIsTarget()
}

// Image is a store image as a go-containerregistry v1.Image whose layers
// are the uncompressed tars (their digest is their diff ID).
type Image interface {
	v1.Image
	ID() v1.Hash
	// StoreLayers are the image's layer records, base first.
	StoreLayers() []*Layer
}

// TagImage points ref at the image src names (docker tag), in any backend.
func TagImage(r RefStore, src, ref string) error {
	id, err := r.Resolve(src)
	if err != nil {
		return err
	}
	t, err := reference.ParseTag(ref)
	if err != nil {
		return err
	}
	_, err = SetTags(r, id, []name.Reference{t}, true)
	return err
}

// SetTags points refs at id in one atomic write (SetMany of one set).
func SetTags(r RefStore, id v1.Hash, refs []name.Reference, lastUpdated bool) ([]TagResult, error) {
	res, err := r.SetMany([]TagSet{{ID: id, Refs: refs}}, lastUpdated)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}
