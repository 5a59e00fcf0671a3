package flatten

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/imgtool/imgtool/overlay"
	"golang.org/x/sys/unix"
)

// Directory layers only: a merged walk instead of the two passes, so memory
// follows the tree's depth times its widest directory, not its file count.
// For one directory at a time it reads that directory's entries from every
// layer whose copy of it shows in the merged view (from the topmost opaque
// copy up), merges them with exactly the rules the tree builder applies to
// the same headers (overlay.ReadEntry is what Walk reads), writes the merged
// children in name order and recurses. So the output is the bytes the two
// passes write for the same layers. The common directory is merged from the
// sorted name lists (stream_emit.go, sorted); merge below applies entries
// bottom first in a map, for literal `.wh.*` names and the Subtree path.

// mergedChild is one name of a merged directory: what the output needs of
// the entry that shows (a directory: its topmost copy), not its header, so
// a wide directory costs less.
type mergedChild struct {
	inode         // meta (symlinks 0777), type, size, link target, device
	layer  int    // the last layer with an entry so named
	layers []int  // directories: layers whose copies merge into it, bottom first
	dev    uint64 // inode, for hard links (nlink > 1)
	ino    uint64
	nlink  uint64
}

func (c *mergedChild) isDir() bool { return c.typ == tar.TypeDir }

// layerDir is one layer's copy of the directory being merged, open.
type layerDir struct {
	layer int
	fd    int
}

type linkKey struct {
	layer    int
	dev, ino uint64
}

type streamer struct {
	roots    []string
	meta     builder // for metaOf
	tw       *tar.Writer
	primary  map[linkKey]string // inodes with more than one link: their first output path
	xattrBuf [256]byte
}

// streamDirs is Flatten for a stack of directory layers.
func streamDirs(w io.Writer, roots []string, opts Options) error {
	s := &streamer{roots: roots, meta: builder{opts: opts}, primary: map[linkKey]string{}}
	var top []layerDir
	defer func() { closeDirs(top) }()
	for i, r := range roots {
		fd, err := unix.Open(r, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("flatten: layer %d: %w", i, &os.PathError{Op: "open", Path: r, Err: err})
		}
		top = append(top, layerDir{layer: i, fd: fd})
	}
	var only []string
	if p := overlay.Clean(opts.Subtree); p != "" {
		only = strings.Split(p, "/")
		if err := s.resolve(top, only); err != nil {
			return fmt.Errorf("flatten: %s: %w", opts.Subtree, err)
		}
	}
	// Headers are 512-byte writes; buffer them so each is not a syscall.
	bw := bufio.NewWriterSize(w, 1<<20)
	s.tw = tar.NewWriter(bw)
	if err := s.dir(top, "", true, only); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	if err := s.tw.Close(); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	return nil
}

func closeDirs(dirs []layerDir) {
	for _, d := range dirs {
		unix.Close(d.fd)
	}
}

// merge reads the directory prefix from dirs (bottom first) and applies
// its entries as the builder does: whiteouts delete, an opaque marker keeps
// only what its own layer wrote (not at the root, as overlayfs), a
// directory over a directory merges, anything else replaces.
func (s *streamer) merge(dirs []layerDir, prefix string, root bool) (map[string]*mergedChild, error) {
	kids := map[string]*mergedChild{}
	for _, d := range dirs {
		names, err := overlay.ReadNames(d.fd, prefix)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			e, err := overlay.ReadEntry(d.fd, prefix, n, s.xattrBuf[:])
			if err != nil {
				return nil, err
			}
			if e.Hdr == nil {
				continue
			}
			base := n
			if e.Whiteout {
				base = overlay.WhiteoutPrefix + n
			}
			kind, orig := overlay.ParseWhiteout(base)
			switch kind {
			case overlay.Whiteout:
				delete(kids, orig)
			case overlay.Opaque:
				if !root {
					opaque(kids, d.layer)
				}
			case overlay.NotWhiteout:
				s.apply(kids, n, e, d.layer)
				continue
			}
			if e.Hdr.Typeflag == tar.TypeDir {
				if err := s.whiteoutDir(kids, d, prefix, n); err != nil {
					return nil, err
				}
			}
		}
	}
	return kids, nil
}

func (s *streamer) apply(kids map[string]*mergedChild, n string, e overlay.Entry, layer int) {
	old := kids[n]
	if e.Hdr.Typeflag == tar.TypeDir && old != nil && old.isDir() {
		old.meta, old.layer, old.layers = s.meta.metaOf(e.Hdr), layer, append(old.layers, layer)
		return
	}
	kids[n] = s.newChild(e, layer)
}

// newChild is the merged record of entry e of layer.
func (s *streamer) newChild(e overlay.Entry, layer int) *mergedChild {
	h := e.Hdr
	c := &mergedChild{inode: inode{meta: s.meta.metaOf(h), typ: h.Typeflag, size: h.Size, linkname: h.Linkname,
		major: h.Devmajor, minor: h.Devminor}, layer: layer, dev: e.Dev, ino: e.Ino, nlink: e.Nlink}
	switch c.typ {
	case tar.TypeDir:
		c.layers = []int{layer}
	case tar.TypeSymlink:
		// A symlink's own mode cannot be set on Linux (see the tree's apply).
		c.mode = 0777
	}
	return c
}

// whiteoutDir is a directory n whose name is a whiteout's, in layer d:
// the tree takes the name as the whiteout, then any entry the walk writes
// under it (or its opaque marker) creates it as a missing parent (0755,
// root, mtime 0; an existing one keeps its metadata). Docker never writes
// such a diff dir; the tree's answer is kept.
func (s *streamer) whiteoutDir(kids map[string]*mergedChild, d layerDir, prefix, n string) error {
	fd, err := unix.Openat(d.fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: join(prefix, n), Err: err}
	}
	defer unix.Close(fd)
	shows := overlay.IsOpaque(fd)
	names, err := overlay.ReadNames(fd, join(prefix, n))
	for i := 0; err == nil && !shows && i < len(names); i++ {
		var e overlay.Entry
		e, err = overlay.ReadEntry(fd, join(prefix, n), names[i], s.xattrBuf[:])
		shows = e.Hdr != nil
	}
	if err != nil || !shows {
		return err
	}
	if old := kids[n]; old != nil && old.isDir() {
		old.layer, old.layers = d.layer, append(old.layers, d.layer)
		return nil
	}
	kids[n] = &mergedChild{inode: inode{meta: meta{mode: 0755}, typ: tar.TypeDir}, layer: d.layer, layers: []int{d.layer}}
	return nil
}

// opaque is a literal opaque marker of layer: what that layer wrote before
// it survives (a directory of its own with only its own content), the rest
// goes, as the builder's opaque does.
func opaque(kids map[string]*mergedChild, layer int) {
	for n, c := range kids {
		switch {
		case c.layer != layer:
			delete(kids, n)
		case c.isDir():
			c.layers = []int{layer}
		}
	}
}

// openDirs opens the copies of child directory base that show: from its
// topmost opaque copy (overlay.IsOpaque) up, bottom first.
func openDirs(parent []layerDir, c *mergedChild, base, name string) ([]layerDir, error) {
	var out []layerDir
	for k := len(c.layers) - 1; k >= 0; k-- {
		pfd := fdOf(parent, c.layers[k])
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeDirs(out)
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		out = append(out, layerDir{layer: c.layers[k], fd: fd})
		if overlay.IsOpaque(fd) {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func fdOf(dirs []layerDir, layer int) int {
	for _, d := range dirs {
		if d.layer == layer {
			return d.fd
		}
	}
	return -1 // not reached: a child's layers are its parent's
}

// resolve checks that the path parts exists in the merged view, with
// the builder's lookup errors, before anything is written.
func (s *streamer) resolve(dirs []layerDir, parts []string) error {
	prefix := ""
	var opened []layerDir
	defer func() { closeDirs(opened) }()
	for k, part := range parts {
		kids, err := s.merge(dirs, prefix, k == 0)
		if err != nil {
			return err
		}
		c := kids[part]
		switch {
		case c == nil:
			return fs.ErrNotExist
		case k == len(parts)-1:
			return nil
		case c.typ == tar.TypeSymlink:
			return errSymlinkParent
		case !c.isDir():
			return errors.New("parent path is not a directory")
		}
		prefix = join(prefix, part)
		next, err := openDirs(dirs, c, part, prefix)
		if err != nil {
			return err
		}
		closeDirs(opened)
		dirs, opened = next, next
	}
	return nil
}

func sortedNames(kids map[string]*mergedChild) []string {
	names := make([]string, 0, len(kids))
	for n := range kids {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
