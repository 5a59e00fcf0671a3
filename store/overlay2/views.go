package overlay2

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/store"
)

// The four sub-stores are views of one *Store: overlay2 keeps layers,
// images, references and containers under one root and one lock, so the
// split is in the interfaces callers see, not in the data.
type (
	layerStore     Store
	imageStore     Store
	refStore       Store
	containerStore Store
)

var (
	_ store.LayerStore     = (*layerStore)(nil)
	_ store.LayerDirs      = (*layerStore)(nil)
	_ store.ImageStore     = (*imageStore)(nil)
	_ store.RefStore       = (*refStore)(nil)
	_ store.ContainerStore = (*containerStore)(nil)
	_ store.Tx             = (*Tx)(nil)
)

func (s *Store) Layers() store.LayerStore         { return (*layerStore)(s) }
func (s *Store) Images() store.ImageStore         { return (*imageStore)(s) }
func (s *Store) Refs() store.RefStore             { return (*refStore)(s) }
func (s *Store) Containers() store.ContainerStore { return (*containerStore)(s) }

func (l *layerStore) Has(chain v1.Hash) bool                  { return (*Store)(l).hasLayer(chain) }
func (l *layerStore) Get(chain v1.Hash) (*store.Layer, error) { return (*Store)(l).layer(chain) }
func (l *layerStore) Chain(top v1.Hash) ([]*store.Layer, error) {
	return (*Store)(l).chain(top)
}
func (l *layerStore) DiffDir(cacheID string) (string, error) { return (*Store)(l).diffDir(cacheID) }
func (l *layerStore) DiffDirs(layers []*store.Layer) ([]string, error) {
	return (*Store)(l).layerDiffDirs(layers)
}
func (l *layerStore) LowerDirs(cacheID string) []string { return (*Store)(l).lowerDirs(cacheID) }

func (i *imageStore) IDs() ([]v1.Hash, error) { return (*Store)(i).imageIDs() }
func (i *imageStore) Get(id v1.Hash) (store.Image, error) {
	img, err := (*Store)(i).image(id)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return img, nil
}
func (i *imageStore) Config(id v1.Hash) ([]byte, error)      { return (*Store)(i).rawConfig(id) }
func (i *imageStore) Metadata(id v1.Hash, key string) string { return (*Store)(i).metadata(id, key) }
func (i *imageStore) Parent(id v1.Hash) v1.Hash {
	h, _ := v1.NewHash(i.Metadata(id, "parent"))
	return h
}
func (i *imageStore) Info(id v1.Hash) (*store.Info, error) { return (*Store)(i).info(id) }
func (i *imageStore) List() ([]*store.Info, error)         { return (*Store)(i).list() }
func (i *imageStore) Remove(arg string, force bool) ([]string, error) {
	return (*Store)(i).remove(arg, force)
}

func (r *refStore) Tags() ([]store.Tag, error)          { return (*Store)(r).tags() }
func (r *refStore) TagsOf(id v1.Hash) ([]string, error) { return (*Store)(r).tagsOf(id) }
func (r *refStore) Resolve(ref string) (v1.Hash, error) { return (*Store)(r).resolve(ref) }
func (r *refStore) Remove(ref string) (bool, error)     { return (*Store)(r).removeTag(ref) }
func (r *refStore) SetMany(sets []store.TagSet, lastUpdated bool) ([][]store.TagResult, error) {
	return (*Store)(r).setManyTags(sets, lastUpdated)
}

func (c *containerStore) List() ([]*store.Container, error) { return (*Store)(c).listContainers() }
func (c *containerStore) Find(ref string) (*store.Container, error) {
	return (*Store)(c).findContainer(ref)
}
func (c *containerStore) Create(image v1.Hash, opts store.CreateOptions) (*store.Container, error) {
	return (*Store)(c).createContainer(image, opts)
}
func (c *containerStore) Remove(ct *store.Container) error { return (*Store)(c).removeContainer(ct) }
func (c *containerStore) RWDir(ct *store.Container) (string, error) {
	return (*Store)(c).rwDir(ct)
}
func (c *containerStore) LayerDirs(ct *store.Container) ([]string, error) {
	return (*Store)(c).containerLayerDirs(ct)
}
func (c *containerStore) Mount(ct *store.Container) (string, error) { return (*Store)(c).mount(ct) }
func (c *containerStore) Unmount(ct *store.Container) error         { return (*Store)(c).unmount(ct) }
