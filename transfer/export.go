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
	layers := make([]flatten.Layer, len(dirs))
	for i, d := range dirs {
		layers[i] = flatten.DirLayer(d)
	}
	return flatten.Flatten(w, layers, flatten.Options{})
}

// ExportImage writes an image's merged rootfs as one tar. Layers unpacked
// in overlay form (a root-owned store, Docker's data root) are read from
// their diff dirs, each byte once; others are regenerated from tar-split.
func ExportImage(w io.Writer, st store.Store, img store.Image) error {
	var layers []flatten.Layer
	if os.Geteuid() == 0 {
		dirs, err := st.Layers().DiffDirs(img.StoreLayers())
		if err != nil {
			return err
		}
		for _, d := range dirs {
			layers = append(layers, flatten.DirLayer(d))
		}
	} else {
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range ls {
			layers = append(layers, flatten.TarLayer(verifiedUncompressed(l)))
		}
	}
	return flatten.Flatten(w, layers, flatten.Options{})
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
		return nil, nil, fmt.Errorf("No such container or image: %s", arg)
	}
	img, err := st.Images().Get(id)
	return nil, img, err
}
