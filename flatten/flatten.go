package flatten

import (
	"archive/tar"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/imgtool/imgtool/overlay"
)

// NamePolicy says how Uname/Gname are written.
type NamePolicy int

const (
	// NamesNone writes empty Uname/Gname (deterministic, host independent).
	// Docker export instead looks names up in the container's /etc/passwd.
	NamesNone NamePolicy = iota
	// NamesKeep copies Uname/Gname from the input header that last set the
	// entry's metadata (DirLayer headers carry none).
	NamesKeep
)

// Options configures Flatten.
type Options struct {
	// Names selects the Uname/Gname policy; the zero value is NamesNone.
	Names NamePolicy
	// TempDir is where spill files are created when a tar layer's entries are
	// out of output order (see the package comment); "" means os.TempDir().
	TempDir string
	// Subtree, if set, limits the output to the entry at this path (clamped
	// as overlay.Clean does) and what is below it, still named from the
	// root. Hard links are resolved within it, so the first of an inode's
	// names inside the subtree carries the content, as docker cp's archive
	// of one path does (a link to a name outside would copy nothing).
	Subtree string
}

// meta is the metadata of a directory or an inode.
type meta struct {
	mode         int64 // permission bits + setuid/setgid/sticky
	uid, gid     int
	uname, gname string
	mtime        int64  // seconds
	capability   string // security.capability xattr ("" = none)
}

type node struct {
	name     string
	children map[string]*node // non-nil iff directory
	dir      *meta            // directory metadata (nil for non-directories: 300k files cost 80 bytes less each)
	ino      *inode           // non-directories
	layer    int              // last layer with an entry at or below this path
}

func (n *node) isDir() bool { return n.children != nil }

type inode struct {
	meta
	typ      byte
	size     int64
	linkname string // symlinks
	major    int64
	minor    int64
	src      *source // regular files
	// linked: a hard link names this inode too. Only then does pass 2
	// record primary, the output path carrying the content; an inode with
	// one name needs no second copy of its path.
	linked  bool
	planned bool   // pass 2 has met the inode
	primary string // see linked
}

// source locates a regular file's content: entry ord (0-based, counting every
// header tar.Reader returns) of layer layer, whose cleaned name is name.
type source struct {
	layer int
	ord   int
	name  string
	size  int64
	spill string // spill file path, once spilled
	done  bool
}

type builder struct {
	root  *node
	opts  Options
	layer int
}

// Flatten writes the merged view of layers (bottom first) to w as one tar
// stream. See the package comment for the exact semantics and conventions.
func Flatten(w io.Writer, layers []Layer, opts Options) error {
	if roots, ok := dirRoots(layers); ok {
		return streamDirs(w, roots, opts)
	}
	b := &builder{root: newDir(""), opts: opts}
	for i, l := range layers {
		b.layer = i
		if err := b.readLayer(l); err != nil {
			return fmt.Errorf("flatten: layer %d: %w", i, err)
		}
	}
	root := b.root
	if opts.Subtree != "" {
		var err error
		if root, err = b.subtree(overlay.Clean(opts.Subtree)); err != nil {
			return fmt.Errorf("flatten: %s: %w", opts.Subtree, err)
		}
	}
	e := &emitter{layers: layers, opts: opts, needed: make([]map[int]*source, len(layers)),
		readers: make([]*layerReader, len(layers)), contents: make([]*dirContent, len(layers))}
	defer e.cleanup()
	e.plan(root, "")
	// Headers are 512-byte writes; buffer them so each is not a syscall.
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	if err := e.emit(tw, root, ""); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	return nil
}

// dirRoots are the directories of layers if every one is a DirLayer: those
// stacks are merged by a walk (stream.go), not a tree in memory.
func dirRoots(layers []Layer) ([]string, bool) {
	roots := make([]string, len(layers))
	for i, l := range layers {
		dl, ok := l.(dirLayer)
		if !ok {
			return nil, false
		}
		roots[i] = dl.root
	}
	return roots, len(layers) > 0
}

// subtree returns a root holding only the path p ("" = everything): copies
// of the directories on the way, each with the one child that leads to p.
func (b *builder) subtree(p string) (*node, error) {
	if n, err := b.lookup(p); err != nil || n == nil {
		if err == nil {
			err = fs.ErrNotExist
		}
		return nil, err
	}
	return prune(b.root, p), nil
}

func prune(n *node, p string) *node {
	if p == "" {
		return n
	}
	first, rest, _ := strings.Cut(p, "/")
	c := *n
	c.children = map[string]*node{first: prune(n.children[first], rest)}
	return &c
}

func newDir(name string) *node {
	return &node{name: name, children: map[string]*node{}, dir: &meta{}}
}

func (b *builder) readLayer(l Layer) error {
	if dl, ok := l.(dirLayer); ok {
		ord := 0
		return dl.headers(func(hdr *tar.Header) error {
			if err := b.apply(hdr, ord); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			ord++
			return nil
		})
	}
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for ord := 0; ; ord++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			// Read to the true end: a verifying source checks its digest there.
			_, err := io.Copy(io.Discard, rc)
			return err
		}
		if err != nil {
			return err
		}
		if err := b.apply(hdr, ord); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

func (b *builder) metaOf(hdr *tar.Header) meta {
	m := meta{mode: hdr.Mode & 07777, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime.Unix()}
	if b.opts.Names == NamesKeep {
		m.uname, m.gname = hdr.Uname, hdr.Gname
	}
	if v, ok := hdr.PAXRecords[xattrPrefix+capXattr]; ok {
		m.capability = downgradeCap(v)
	}
	return m
}

// downgradeCap turns a VFS_CAP_REVISION_3 value into revision 2, as Docker's
// tar writer does.
func downgradeCap(v string) string {
	const revMask, rev2, rev3 = 0xff000000, 0x02000000, 0x03000000
	if len(v) != 24 {
		return v
	}
	b := []byte(v)
	magic := binary.LittleEndian.Uint32(b)
	if magic&revMask != rev3 {
		return v
	}
	binary.LittleEndian.PutUint32(b, rev2|magic&^revMask)
	return string(b[:20])
}

var errSymlinkParent = errors.New("parent path contains a symlink (not followed; unsupported)")

// lookup returns the node at name ("" = root) without following symlinks.
// A missing node is (nil, nil); a parent that is not a directory is an error
// only if strict.
func (b *builder) lookup(name string) (*node, error) {
	n := b.root
	if name == "" {
		return n, nil
	}
	for _, c := range strings.Split(name, "/") {
		if !n.isDir() {
			if n.ino.typ == tar.TypeSymlink {
				return nil, errSymlinkParent
			}
			return nil, errors.New("parent path is not a directory")
		}
		n = n.children[c]
		if n == nil {
			return nil, nil
		}
	}
	return n, nil
}

// parentDir returns the directory dir, creating missing directories
// (0755 root, mtime 0) and marking each as touched by the current layer.
func (b *builder) parentDir(dir string) (*node, error) {
	n := b.root
	if dir == "" {
		return n, nil
	}
	for _, c := range strings.Split(dir, "/") {
		child := n.children[c]
		if child == nil {
			child = newDir(c)
			child.dir = &meta{mode: 0755}
			n.children[c] = child
		}
		if !child.isDir() {
			if child.ino.typ == tar.TypeSymlink {
				return nil, errSymlinkParent
			}
			return nil, errors.New("parent path is not a directory")
		}
		child.layer = b.layer
		n = child
	}
	return n, nil
}

func (b *builder) apply(hdr *tar.Header, ord int) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	name := overlay.Clean(hdr.Name)
	if name == "" {
		return nil // root entry: docker export emits none
	}
	dir, base := path.Dir(name), path.Base(name)
	if dir == "." {
		dir = ""
	}
	if kind, orig := overlay.ParseWhiteout(base); kind != overlay.NotWhiteout {
		return b.whiteout(dir, kind, orig)
	}
	parent, err := b.parentDir(dir)
	if err != nil {
		return err
	}
	old := parent.children[base]
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old != nil && old.isDir() {
			*old.dir = b.metaOf(hdr)
			old.layer = b.layer
			return nil
		}
		n := newDir(base)
		m := b.metaOf(hdr)
		n.dir, n.layer = &m, b.layer
		parent.children[base] = n
	case tar.TypeLink:
		target, err := b.lookup(overlay.Clean(hdr.Linkname))
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		}
		if target == nil {
			return fmt.Errorf("hard link target %q does not exist", hdr.Linkname)
		}
		if target.isDir() {
			return fmt.Errorf("hard link target %q is a directory", hdr.Linkname)
		}
		ino := target.ino
		// Docker's createTarFile applies the link header's owner (and,
		// unless the target is a symlink, its mode and times) to the inode.
		m := b.metaOf(hdr)
		ino.uid, ino.gid, ino.uname, ino.gname = m.uid, m.gid, m.uname, m.gname
		if ino.typ != tar.TypeSymlink {
			ino.mode, ino.mtime = m.mode, m.mtime
		}
		ino.capability = m.capability // Docker's chown of the link clears the capability
		ino.linked = true
		parent.children[base] = &node{name: base, ino: ino, layer: b.layer}
	// archive/tar's Reader turns the old '\x00' (TypeRegA) into TypeReg,
	// and overlay.Walk never writes it.
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		ino := &inode{meta: b.metaOf(hdr), typ: hdr.Typeflag}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse:
			ino.typ = tar.TypeReg
			ino.size = hdr.Size
			ino.src = &source{layer: b.layer, ord: ord, name: name, size: hdr.Size}
		case tar.TypeSymlink:
			// A symlink's own mode cannot be set on Linux: Docker unpacks it
			// 0777 whatever the header says, and export reads that back.
			ino.linkname, ino.mode = hdr.Linkname, 0777
		case tar.TypeChar, tar.TypeBlock:
			ino.major, ino.minor = hdr.Devmajor, hdr.Devminor
		}
		parent.children[base] = &node{name: base, ino: ino, layer: b.layer}
	default:
		return fmt.Errorf("unsupported tar entry type %q", string(rune(hdr.Typeflag)))
	}
	return nil
}

// whiteout applies a whiteout entry in dir: kind Whiteout deletes orig,
// Opaque hides the lower layers' content of dir; Meta and Invalid names only
// touch dir, as Docker ignores them. An opaque marker at the root is ignored:
// overlayfs never reads a layer root's opacity, so docker export shows the
// lower layers (overlay package comment).
func (b *builder) whiteout(dir string, kind overlay.Kind, orig string) error {
	parent, err := b.lookup(dir)
	if err == nil && parent == nil {
		parent, err = b.parentDir(dir) // Docker's unpacker creates a whiteout's missing parents
	}
	if err != nil || parent == nil || !parent.isDir() {
		return nil // nothing to delete there
	}
	b.touch(dir)
	switch kind {
	case overlay.Opaque:
		if dir != "" {
			b.opaque(parent)
		}
	case overlay.Whiteout:
		delete(parent.children, orig)
	}
	return nil
}

// touch marks the existing directories on dir as touched by the current layer.
func (b *builder) touch(dir string) {
	if dir == "" {
		return
	}
	n := b.root
	for _, c := range strings.Split(dir, "/") {
		n = n.children[c]
		if n == nil || !n.isDir() {
			return
		}
		n.layer = b.layer
	}
}

// opaque removes everything under d that the current layer did not create,
// re-state or traverse.
func (b *builder) opaque(d *node) {
	for name, c := range d.children {
		if c.layer != b.layer {
			delete(d.children, name)
		} else if c.isDir() {
			b.opaque(c)
		}
	}
}

func sortedChildren(n *node) []*node {
	out := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
