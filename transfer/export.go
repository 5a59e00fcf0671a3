package transfer

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/store"
)

// ExportContainer writes the container's merged view (image layers, init
// layer, read-write layer) as one rootfs tar, like docker export, reading
// the overlay2 directories directly: no mount, no daemon.
func ExportContainer(w io.Writer, st store.Store, c *store.Container) error {
	dirs, err := st.Containers().LayerDirs(c)
	if err != nil {
		return err
	}
	return flatten.Flatten(w, flatten.DirLayers(dirs), flatten.Options{})
}

// ExportImage writes an image's merged rootfs as one tar.
func ExportImage(w io.Writer, st store.Store, img store.Image) error {
	layers, err := storeImageLayers(st, img)
	if err != nil {
		return err
	}
	return flatten.Flatten(w, layers, flatten.Options{})
}

// storeImageLayers are a store image's layers for flatten. Layers unpacked
// in overlay form (a root-owned store, Docker's data root) are read from
// their diff dirs, each byte once; others are regenerated from tar-split.
// Both read through package overlay, so they give one tree. A store
// without layer dirs (containerd's) gives its blobs' tars.
func storeImageLayers(st store.Store, img store.Image) ([]flatten.Layer, error) {
	if ld, ok := store.Dirs(st); ok && os.Geteuid() == 0 {
		dirs, err := ld.DiffDirs(img.StoreLayers())
		if err != nil {
			return nil, err
		}
		return flatten.DirLayers(dirs), nil
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var layers []flatten.Layer
	for _, l := range ls {
		layers = append(layers, flatten.TarLayer(verifiedUncompressed(l)))
	}
	return layers, nil
}

// ExportTarget resolves export's argument: a container first (docker
// export takes only containers), then an image.
func ExportTarget(st store.Store, arg string) (*store.Container, store.Image, error) {
	c, cerr := st.Containers().Find(arg)
	if cerr == nil {
		return c, nil, nil
	}
	if errors.Is(cerr, store.ErrAmbiguous) {
		return nil, nil, cerr
	}
	id, err := st.Refs().Resolve(arg)
	if err != nil {
		//lint:ignore ST1005 docker export's own words
		return nil, nil, fmt.Errorf("No such container or image: %s", arg)
	}
	img, err := st.Images().Get(id)
	return nil, img, err
}
