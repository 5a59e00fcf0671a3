package flatten

import (
	"archive/tar"
	"io"
	"os"

	"github.com/imgtool/imgtool/overlay"
)

// A Layer is one layer of the stack, bottom first.
type Layer interface {
	// Open returns the layer's uncompressed tar stream (AUFS-style .wh.
	// whiteouts). Flatten calls it at most twice: once for the header pass
	// and once, if the layer contributes file content, for the content pass.
	// Both calls must return the same bytes.
	Open() (io.ReadCloser, error)
}

type tarLayer struct {
	open func() (io.ReadCloser, error)
}

// TarLayer returns a layer whose tar stream is produced by open.
func TarLayer(open func() (io.ReadCloser, error)) Layer { return tarLayer{open} }

func (l tarLayer) Open() (io.ReadCloser, error) { return l.open() }

// DirLayer returns a layer given as an overlayfs upper directory (for example
// a container's rw dir or a store layer's diff dir). Its Open produces the
// tar overlay.Walk describes (AUFS-style whiteouts, lexical order, a root
// opaque marker for an opaque diff dir); Flatten reads its headers straight
// from the walk and regular-file content from the directory by path.
func DirLayer(dir string) Layer { return dirLayer{dir} }

// DirLayers is DirLayer for each of dirs (a container's or image's diff
// dirs, bottom first): what export, squash and cp merge.
func DirLayers(dirs []string) []Layer {
	ls := make([]Layer, len(dirs))
	for i, d := range dirs {
		ls[i] = DirLayer(d)
	}
	return ls
}

type dirLayer struct{ root string }

func (l dirLayer) Open() (io.ReadCloser, error) {
	if _, err := os.Stat(l.root); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := overlay.Walk(l.root, func(hdr *tar.Header, open func() (*os.File, error)) error {
			if err := tw.WriteHeader(hdr); err != nil || open == nil {
				return err
			}
			f, err := open()
			if err != nil {
				return err
			}
			defer f.Close()
			return copyExact(tw, f, hdr.Size)
		})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// headers calls fn for each header Open would produce, without reading
// file content.
func (l dirLayer) headers(fn func(*tar.Header) error) error {
	return overlay.Walk(l.root, func(hdr *tar.Header, _ func() (*os.File, error)) error { return fn(hdr) })
}

// dirContent serves a dirLayer's regular-file content by name (random
// access), so the content pass need not re-read a tar. The names come in
// output order, so the chain keeps their directories open and each file
// costs one openat (overlay.OpenRegular; os.Root resolves what the chain
// cannot, so names longer than PATH_MAX open too).
type dirContent struct {
	root  *os.Root
	chain *overlay.DirChain
}

func openDirContent(dir string) (*dirContent, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	chain, err := overlay.NewDirChain(root)
	if err != nil {
		root.Close()
		return nil, err
	}
	return &dirContent{root: root, chain: chain}, nil
}

func (d *dirContent) open(name string) (io.ReadCloser, int64, error) {
	return overlay.OpenRegular(d.root, d.chain, name)
}

func (d *dirContent) close() {
	d.chain.Close()
	d.root.Close()
}

const (
	xattrPrefix = overlay.PAXXattrPrefix
	capXattr    = overlay.CapXattr
)
